"""The one Dask client of this process, made on first use: ``$EXPLORER_SCHEDULER``'s cluster or an embedded
``LocalCluster`` of worker processes; closed at exit. Every worker it reaches is set up by ``WorkerSetup``.

``lock`` guards making and closing the client; ``on_close`` registers what to forget when the client is closed (at
exit, by ``close()``, or when Dask gave up reconnecting and a new client is made).

The workers of the embedded cluster start with ``WORKER_ENVIRON`` (Dask's ``distributed.nanny.pre-spawn-environ``),
as ``make class``'s do: without Dask's ``MALLOC_TRIM_THRESHOLD_`` (``explorer.engine.glibc`` says why).
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import warnings
from collections.abc import Callable

from explorer.engine.records import EngineUnavailable, forget_locks
from explorer.engine.worker import THREADS_ENV, WorkerSetup

log = logging.getLogger("explorer.engine.jobs")

SCHEDULER_ENV = "EXPLORER_SCHEDULER"  # tcp://HOST:8786: use that cluster instead of an embedded one
WORKERS_ENV = "EXPLORER_WORKERS"  # workers of the embedded cluster (default 1: one job at a time)
# ``distributed.nanny.pre-spawn-environ`` for the workers the project starts: Dask's, less MALLOC_TRIM_THRESHOLD_
# (None unsets it; ``worker_environ`` passes it to a ``dask worker`` command)
WORKER_ENVIRON = {"MALLOC_TRIM_THRESHOLD_": None}

lock = threading.RLock()  # making and closing this process's client
_client = None
_cluster = None
_closing_registered = False
_on_close: list[Callable[[], None]] = []


def on_close(forget: Callable[[], None]) -> None:
    """Call ``forget()`` (with ``lock`` held) whenever this process's client is closed."""
    _on_close.append(forget)


def client():
    """This process's Dask client, made on first use: ``$EXPLORER_SCHEDULER``'s cluster or an embedded one.

    Raises EngineUnavailable when the scheduler does not answer, runs another Dask version, or the embedded
    cluster cannot start.
    """
    global _client, _closing_registered
    c = _client
    if c is not None and c.status in ("running", "connecting", "newly-created"):
        return c
    with lock:
        if _client is not None and _client.status in ("running", "connecting", "newly-created"):
            return _client
        if _client is not None:  # closed: Dask gave up reconnecting; close what is left before a new one
            close()
        where = os.environ.get(SCHEDULER_ENV, "").strip() or "the embedded cluster"
        try:
            _client = _connect()
        except EngineUnavailable:
            raise
        except (OSError, TimeoutError) as e:
            why = unreachable_reason(address) if (address := os.environ.get(SCHEDULER_ENV, "").strip()) else ""
            raise EngineUnavailable(f"the job engine ({where}) cannot be reached: {why or _first_line(e)}") from e
        except Exception as e:  # a scheduler that speaks another protocol, a worker that cannot set up...
            raise EngineUnavailable(f"the job engine ({where}) is not usable: {_first_line(e)}") from e
        if not _closing_registered:
            atexit.register(close)
            _closing_registered = True
        return _client


def _first_line(e: BaseException) -> str:
    """An error as one line: its type and the first line of its message."""
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def unreachable_reason(address: str, timeout_s: float = 2.0) -> str:
    """Why no Dask scheduler answered at ``address`` (tcp://HOST:PORT), in plain words. Dask retries a refused
    connection until its connect timeout and then says only that it timed out, so one plain TCP connection tells
    the causes apart: nothing listening, an unknown host, a host that does not answer, or a listener that is no
    scheduler."""
    hostport = address.partition("://")[2] or address
    host, _sep, port = hostport.rpartition(":")
    host = host.strip("[]")  # [::1]:8786
    if not host or not port.isdigit():
        return f"{address} is not an address of the form tcp://HOST:PORT"
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return (
                f"something listens on {host} port {port} but did not answer as a Dask scheduler "
                "(is it another service, or a scheduler still starting?)"
            )
    except ConnectionRefusedError:
        return (
            f"nothing is listening on {host} port {port}: start a scheduler there with `dask scheduler --port {port}`"
        )
    except socket.gaierror:
        return f"the host {host} is not known (check the name in the address)"
    except TimeoutError:
        return f"{host} did not answer on port {port} within {timeout_s:g} s (a machine that is off, or a firewall)"
    except OSError as e:
        return f"{host} port {port}: {e.strerror or type(e).__name__}"


def _connect():
    global _cluster
    import dask
    from distributed import Client, LocalCluster

    address = os.environ.get(SCHEDULER_ENV, "").strip()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a version mismatch is reported below, in one line
        if address:
            c = Client(address, set_as_default=False)  # waits distributed.comm.timeouts.connect
        else:
            knob = "distributed.nanny.pre-spawn-environ"
            workers = int(os.environ.get(WORKERS_ENV, "1"))
            environ = {**WORKER_ENVIRON, **worker_threads(workers)}
            with dask.config.set({f"{knob}.{name}": value for name, value in environ.items()}):
                _cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    silence_logs=logging.WARNING,
                )
            c = Client(_cluster, set_as_default=False)
    try:
        _check_versions(c, address)
        c.register_plugin(WorkerSetup(), name=WorkerSetup.name)  # idempotent: the first client's stays
    except BaseException:
        c.close()
        raise
    log.info("job engine: %s", c.scheduler.address)
    return c


def _check_versions(c, address: str) -> None:
    versions = c.get_versions()
    ours = versions["client"]["packages"].get("distributed")
    theirs = versions["scheduler"]["packages"].get("distributed")
    if ours != theirs:
        raise EngineUnavailable(
            f"the scheduler at {address} runs Dask distributed {theirs}, this machine {ours}: "
            "install the same version on both"
        )


def worker_threads(workers: int) -> dict[str, str]:
    """The environment for ``workers`` one-job workers on this machine: each job's torch threads are the machine's
    cores shared out (``$EXPLORER_TORCH_THREADS``; each worker alone would take every core, and small networks run
    faster per core on one thread: two ResNet-56 pairs at once on 2 cores finish in 35 s, one after the other on
    2 threads each in 54 s). Nothing for one worker, or where the variable is set already."""
    if workers <= 1 or os.environ.get(THREADS_ENV):
        return {}
    return {THREADS_ENV: str(max(1, (os.cpu_count() or 1) // workers))}


def worker_environ() -> dict[str, str]:
    """The environment that gives a ``dask worker`` command WORKER_ENVIRON (Dask merges it into its own)."""
    return {"DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON": repr(WORKER_ENVIRON)}


def close() -> None:
    """Close this process's client (and its embedded cluster, if it made one)."""
    global _client, _cluster
    with lock:
        for forget in _on_close:
            forget()
        forget_locks()
        c, cluster, _client, _cluster = _client, _cluster, None, None
    for closing in (c, cluster):
        if closing is not None:
            try:
                closing.close()
            except Exception as e:  # closing at exit, or after the scheduler went away
                log.debug("closing %s: %s", closing, e)


def embedded() -> bool:
    """True when this process runs its own LocalCluster (no ``$EXPLORER_SCHEDULER``)."""
    return _cluster is not None
