"""The engine's worker side: what sets every worker up and what runs a job there.

``WorkerSetup`` (a ``WorkerPlugin``) gives each worker its torch threads (``torch_threads``) and, where Dask's nanny
set them, glibc's malloc thresholds back (``glibc.keep_freed_memory``); ``run_job`` is the task of every execution: the job's function with a
``JobContext`` (progress, points, Stop), then how it ended. ``LocalContext`` is the same interface in-process.
The client side (``explorer.engine.jobs``) submits ``run_job`` pickled by reference, so a worker imports this module
(and the job's function) by name; the scheduler imports neither.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from explorer.engine import glibc
from explorer.engine.progress import ProgressLog
from explorer.engine.records import (
    DONE,
    FAILED,
    RUNNING,
    STARTED_TOPIC,
    STOPPED,
    end_fields,
    failure_note,
    jobs_lock,
    record_end,
    stop_event,
)

log = logging.getLogger("explorer.engine.worker")

THREADS_ENV = "EXPLORER_TORCH_THREADS"  # torch threads per job (default: the worker machine's cores / its job slots)
REPORT_S = 0.5  # at most this often a worker sends a progress message


def torch_threads(slots: int | None = None) -> int:
    """Torch threads for a job on this worker: ``$EXPLORER_TORCH_THREADS``, else cores / the worker's job slots."""
    if os.environ.get(THREADS_ENV):
        return max(1, int(os.environ[THREADS_ENV]))
    if slots is None:
        slots = 1
        try:
            from distributed import get_worker

            slots = get_worker().state.nthreads
        except ValueError:  # not inside a worker
            pass
    return max(1, (os.cpu_count() or 1) // max(1, slots))


try:
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover - distributed is a requirement
    _WorkerPlugin = object


class WorkerSetup(_WorkerPlugin):
    """Every worker, as it joins: torch's threads, and glibc's malloc thresholds back where Dask's nanny set
    ``MALLOC_TRIM_THRESHOLD_`` (a worker started by hand; the project's own workers never get it)."""

    name = "explorer-setup"
    idempotent = True

    def setup(self, worker) -> None:
        import torch

        if os.environ.get(glibc.TRIM_ENV):
            glibc.keep_freed_memory()
        torch.set_num_threads(torch_threads(worker.state.nthreads))


class JobContext:
    """What a job's function gets on the worker: ``report(**fields)``, ``add_points(points)``, ``stop.is_set()``.

    ``report`` merges fields (msgpack-able: numbers, strings, lists, dicts, ``i18n.message`` pairs) into the job's
    snapshot; ``add_points`` queues points (each a small list) to go with the next report. Both are sent at most
    every REPORT_S seconds (``force`` sends now), so a message holds the latest snapshot and the new points only.
    """

    def __init__(self, jid: str, key: str, kind: str, title: str = "") -> None:
        from distributed import get_client, get_worker

        self.id, self.key = jid, key
        self._client = get_client()
        self._log = ProgressLog(self._client, key)
        previous = self._log.open()
        restarts = list(previous.get("restarts", []))
        if previous.get("worker"):  # this execution ran before on a worker that was lost
            step = max(int(previous.get("step", 0)), int(previous.get("checkpoint_step", 0)))
            restarts.append({"worker": previous["worker"], "step": step})
        self._snapshot = {
            "key": key,
            "state": RUNNING,
            "kind": kind,
            "title": title,
            "worker": get_worker().address,
            "attempt": int(previous.get("attempt", 0)) + 1,
            "restarts": restarts,
            "started": time.time(),
        }
        self._points: list = []
        self._sent = 0.0
        self.stop = _StopFlag(stop_event(key, self._client))

    @property
    def attempt(self) -> int:
        """1 for the execution's first run; more when the scheduler ran it again after losing a worker."""
        return self._snapshot["attempt"]

    def due(self) -> bool:
        """Whether the next ``report`` would be sent (build costly fields only then)."""
        return time.time() - self._sent >= REPORT_S

    def add_points(self, points: list) -> None:
        self._points.extend(points)

    def report(self, force: bool = False, **fields) -> None:
        self._snapshot.update(fields)
        now = time.time()
        if force or now - self._sent >= REPORT_S:
            self._send(now)

    def _send(self, now: float) -> None:
        self._snapshot["updated"] = now
        self._log.write(self._snapshot, self._points)
        self._points = []
        self._sent = now

    @property
    def checkpoint_step(self) -> int:
        """The last checkpoint the job reported (0: none)."""
        return int(self._snapshot.get("checkpoint_step", 0) or 0)

    def log_start(self) -> None:
        self._client.log_event(STARTED_TOPIC, {"key": self.key, "kind": self._snapshot["kind"]})

    def end(self, state: str, note=None) -> None:
        """The last snapshot, then the job's record (``record_end``, which lets go of its slot and stop Event).

        Raises EngineUnavailable when the end cannot be recorded (the jobs lock stayed busy)."""
        self.report(force=True, state=state, phase="finished", note=note, eta_s=0.0)
        record_end(self._client, self.id, self.key, end_fields(state, self._snapshot), jobs_lock(self._client))

    def fail(self, exc: BaseException) -> None:
        """End as failed with ``exc``'s words; if even that cannot be recorded, the reason is only logged, so that
        the job's own error is the one its future carries."""
        try:
            self.end(FAILED, failure_note(exc, self.checkpoint_step))
        except Exception as e:  # the job's error matters more than the record's
            log.warning("job %s failed (%s) and its end could not be recorded: %s", self.key, exc, e)


class _StopFlag:
    """``is_set()`` asks the job's ``distributed.Event`` (one small request per step) until it is set."""

    def __init__(self, event) -> None:
        self.event, self._set = event, False

    def is_set(self) -> bool:
        if not self._set:
            self._set = bool(self.event.is_set())
        return self._set


class LocalContext:
    """The same interface in-process (the CLI without a scheduler): a callback and a threading.Event."""

    attempt = 1

    def __init__(self, on_report=None) -> None:
        self.key = ""
        self.stop = threading.Event()
        self.snapshot: dict = {}
        self.points: list = []
        self._on_report = on_report

    def due(self) -> bool:
        return True

    def add_points(self, points: list) -> None:
        self.points.extend(points)

    def report(self, force: bool = False, **fields) -> None:
        self.snapshot.update(fields)
        if self._on_report is not None:
            self._on_report(self.snapshot)

    def log_start(self) -> None:
        pass


def run_job(fn: Callable[[dict, Any], Any], spec: dict, jid: str, key: str, kind: str, title: str) -> Any:
    """The task every execution runs on a worker: the job's function with a JobContext, then how it ended.

    Dask runs a finished task again when the worker holding its result is lost and someone still holds its future;
    an execution that has already ended (or that a newer one replaced) returns None at once instead.
    """
    from distributed import get_client

    previous = ProgressLog(get_client(), key).snapshot()
    if previous.get("state") in (DONE, STOPPED, FAILED):
        return None
    ctx = JobContext(jid, key, kind, title)
    ctx.log_start()
    ctx.report(force=True, phase="starting")
    try:
        out = fn(spec, ctx)
    except Exception as e:
        ctx.fail(e)
        raise
    try:
        ctx.end(STOPPED if ctx.stop.is_set() else DONE)
    except Exception as e:  # the work is done; ``jobs.reconcile`` records the end from the finished future
        log.warning("job %s ended but its end could not be recorded: %s", key, e)
    return out
