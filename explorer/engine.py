"""Long work as jobs on Dask distributed: submit by key, stream progress, stop within a step, share.

By default the first job starts an embedded ``LocalCluster`` of worker *processes* (one worker with one
thread: one job at a time, and the web server's own threads never train). ``EXPLORER_SCHEDULER=tcp://HOST:8786``
points the app and the CLI at a cluster started with Dask's own commands instead::

    dask scheduler                                   # one machine
    python -m dask worker tcp://HOST:8786 --nthreads 1   # each machine, from the project folder

A job's key names what it computes (``explorer-<kind>-<hash of its inputs>``), so identical requests from
any session, server process or machine join the one job (``Client.submit(..., key=key)``). Everything a
viewer needs lives on the scheduler, so it works across processes and machines:

- progress: the worker writes a snapshot (``Client.set_metadata(["explorer", key], {...})``) at most
  every ``REPORT_S`` seconds and at the end; viewers read it with ``get_metadata``;
- stop: ``set_metadata(["explorer-stop", key], True)``, read by the worker before every step;
- place in the queue and lost workers: the scheduler's own task states (``run_on_scheduler``);
- a count of jobs that really started: ``log_event("explorer-started", ...)``, read by ``job_count``.

Job bodies live in ``explorer.tasks``; they never touch the UI.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

log = logging.getLogger(__name__)

SCHEDULER_ENV = "EXPLORER_SCHEDULER"  # tcp://HOST:8786: use that cluster instead of an embedded one
WORKERS_ENV = "EXPLORER_WORKERS"  # workers of the embedded cluster (default 1: one job at a time)
THREADS_ENV = "EXPLORER_TORCH_THREADS"  # torch threads per job (default: the worker machine's cores / its job slots)
PREFIX = "explorer-"
STARTED_TOPIC = "explorer-started"
REPORT_S = 0.5  # at most this often a worker sends a progress snapshot
KEEP_RESULTS = 32  # finished jobs whose results this process keeps for late viewers

QUEUED, RUNNING, DONE, CANCELLED, FAILED, LOST = "queued", "running", "done", "cancelled", "failed", "lost"
ACTIVE = (QUEUED, RUNNING, LOST)
_ACTIVE_TASK_STATES = ("released", "waiting", "queued", "no-worker", "processing")

_lock = threading.RLock()
_client = None
_cluster = None
_futures: dict[str, Any] = {}  # key -> Future this process holds (keeps results until read)
_active_cache: tuple[float, dict] = (0.0, {})


def job_key(kind: str, inputs: Any) -> str:
    """``explorer-<kind>-<16 hex>``: a hash of everything the job computes from (not of titles or paths)."""

    def plain(o):
        if is_dataclass(o):
            return asdict(o)
        if isinstance(o, bytes):
            return hashlib.sha256(o).hexdigest()
        return str(o)

    text = json.dumps(inputs, sort_keys=True, default=plain)
    return f"{PREFIX}{kind}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def job_id(key: str) -> str:
    """The short id a link carries (``/train?run=ID``): the key's hash."""
    return key.rsplit("-", 1)[-1]


class EngineUnavailable(OSError):
    """The job engine cannot be reached (or started): the message says which, in plain words."""


def client():
    """The Dask client, made on first use: ``$EXPLORER_SCHEDULER``'s cluster or an embedded LocalCluster.

    Raises EngineUnavailable when the scheduler does not answer or the embedded cluster cannot start.
    """
    with _lock:
        if _client is not None and _client.status == "running":
            return _client
        try:
            return _connect()
        except (OSError, RuntimeError) as e:
            where = os.environ.get(SCHEDULER_ENV) or "the embedded cluster"
            raise EngineUnavailable(f"the job engine ({where}) cannot be reached: {type(e).__name__}") from e


def _connect():
    global _client, _cluster
    from distributed import Client, LocalCluster

    address = os.environ.get(SCHEDULER_ENV, "").strip()
    if address:
        _client = Client(address, set_as_default=False)  # waits distributed.comm.timeouts.connect
    else:
        _cluster = LocalCluster(
            n_workers=int(os.environ.get(WORKERS_ENV, "1")),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.WARNING,
        )
        _client = Client(_cluster, set_as_default=False)
    log.info("job engine: %s", _client.scheduler.address)
    return _client


def close() -> None:
    """Drop this process's client (and its embedded cluster, if it made one)."""
    global _client, _cluster, _active_cache
    with _lock:
        _futures.clear()
        _active_cache = (0.0, {})
        if _client is not None:
            _client.close()
        if _cluster is not None:
            _cluster.close()
        _client = _cluster = None


def embedded() -> bool:
    """True when this process runs its own LocalCluster (no ``$EXPLORER_SCHEDULER``)."""
    return _cluster is not None


# ---- submitting and watching ---------------------------------------------------------------


@dataclass
class JobStatus:
    """What a viewer shows: state, progress and, while queued, how many jobs run or wait ahead."""

    key: str
    state: str | None  # None: the engine knows no such job
    phase: str = ""
    step: int = 0
    total: int = 0
    images_per_s: float = 0.0
    eta_s: float = 0.0
    position: int = 0
    message: str = ""
    checkpoint_step: int = 0
    snapshot: dict = field(default_factory=dict, repr=False)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


def submit(kind: str, key: str, spec: dict, title: str = "") -> str:
    """Run ``explorer.tasks.TASKS[kind](spec, ctx)`` as job ``key``, or join it if it already runs.

    Returns the key. A job that is neither queued nor running starts afresh (its stop flag cleared).
    """
    c = client()
    with _lock:
        mine = _futures.get(key)
        if mine is not None and not mine.done():
            return key  # this process already waits for it: join
        if mine is not None and mine.status == "finished" and status(key).state == DONE:
            return key  # finished here already: the same inputs give the same result
        if not _is_active(key):
            c.set_metadata(["explorer-stop", key], False)
            c.set_metadata(["explorer", key], {"state": QUEUED, "kind": kind, "title": title, "submitted": time.time()})
        if mine is not None:  # stopped or failed before: let go of the old result, run again
            _futures.pop(key).release()
        _futures[key] = c.submit(_execute, kind, key, spec, key=key, pure=False)
        for k in [k for k, f in _futures.items() if f.done()][:-KEEP_RESULTS]:
            _futures.pop(k).release()
        _forget_active()
    return key


def stop(key: str) -> None:
    """Ask job ``key`` to stop: a queued job ends before it starts, a running one before its next step."""
    client().set_metadata(["explorer-stop", key], True)


def status(key: str) -> JobStatus:
    """Where job ``key`` stands, read from the scheduler (works for jobs other processes submitted)."""
    c = client()
    snap = c.get_metadata(["explorer", key], default=None) or {}
    st = JobStatus(
        key,
        snap.get("state"),
        snap.get("phase", ""),
        int(snap.get("step", 0)),
        int(snap.get("total", 0)),
        float(snap.get("images_per_s", 0.0)),
        float(snap.get("eta_s", 0.0)),
        message=snap.get("message", ""),
        checkpoint_step=int(snap.get("checkpoint_step", 0)),
        snapshot=snap,
    )
    fut = _futures.get(key)
    if fut is not None and fut.status == "error":
        st.state, st.message = FAILED, failure_message(fut.exception(), st)
        return st
    active = _active_tasks()
    task = active.get(key)
    if task is None:
        if fut is not None and not fut.done():  # submitted a moment ago: the scheduler has not seen it yet
            st.state = st.state or QUEUED
        elif st.state in (QUEUED, RUNNING):  # the scheduler forgot it: its worker died and no one waits for it
            st.state, st.message = LOST, lost_message(st)
        return st
    st.position = sum(1 for t in active.values() if t["order"] < task["order"])
    worker_gone = task["worker"] != snap.get("worker") or task["state"] != "processing"
    if st.state == RUNNING and task["suspicious"] > 0 and worker_gone:
        st.state, st.message = LOST, lost_message(st)
    elif st.state is None:  # submitted by a client that wrote no snapshot yet
        st.state = QUEUED
    return st


def result(key: str, timeout: float | None = None) -> Any:
    """The finished job's return value if this process submitted or joined it, else None."""
    fut = _futures.get(key)
    if fut is None or fut.status != "finished":
        return None
    return fut.result(timeout=timeout)


def release(key: str) -> None:
    """Let go of a finished job's result held by this process."""
    with _lock:
        fut = _futures.pop(key, None)
    if fut is not None:
        fut.release()


def wait(key: str, on_status=None, poll_s: float = 0.5, timeout: float | None = None) -> JobStatus:
    """Block until job ``key`` ends (or ``timeout``), calling ``on_status(JobStatus)`` as it goes."""
    end = None if timeout is None else time.time() + timeout
    fut = _futures.get(key)
    while True:
        st = status(key)
        if on_status is not None:
            on_status(st)
        if not st.active and (fut is None or fut.done()):
            return st
        if st.state == LOST and fut is None:
            return st
        if end is not None and time.time() > end:
            return st
        time.sleep(poll_s)


def job_count(kind: str | None = None) -> int:
    """How many jobs (of ``kind``) really started on the engine's workers: the scheduler's event log.

    Counts starts, not submissions (joined and deduplicated requests do not start a job); a job resumed on
    a second worker after the first died counts twice. The log keeps the last 1000 starts.
    """
    events = client().get_events(STARTED_TOPIC)
    return sum(1 for _, msg in events if kind is None or msg.get("kind") == kind)


def failure_message(exc: BaseException | None, st: JobStatus | None = None) -> str:
    """Plain words for why a job failed (no traceback, no paths)."""
    if exc is None:
        return ""
    kept = f" The checkpoint at step {st.checkpoint_step} is kept." if st and st.checkpoint_step else ""
    if type(exc).__name__ == "KilledWorker":
        return (
            "The worker running this job stopped several times (a machine crashed, was switched off or ran "
            f"out of memory), so the engine gave up on it.{kept}"
        )
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}{kept}"


def lost_message(st: JobStatus) -> str:
    kept = (
        f"Its checkpoint at step {st.checkpoint_step} is kept; the job goes on from there when a worker is free."
        if st.checkpoint_step
        else "It had not reached a checkpoint yet; it starts again when a worker is free."
    )
    return f"The worker running this job stopped (at step {st.step}). {kept}"


def _forget_active() -> None:
    global _active_cache
    _active_cache = (0.0, {})


def _scheduler_tasks(dask_scheduler=None) -> dict:
    """Runs on the scheduler: this engine's unfinished tasks, their order, state and worker."""
    out = {}
    for key, ts in dask_scheduler.tasks.items():
        if isinstance(key, str) and key.startswith(PREFIX) and ts.state in _ACTIVE_TASK_STATES:
            worker = ts.processing_on.address if ts.processing_on is not None else None
            out[key] = {"order": ts.priority, "state": ts.state, "worker": worker, "suspicious": ts.suspicious}
    return out


def _active_tasks(max_age_s: float = 0.5) -> dict:
    """``_scheduler_tasks``, cached briefly: a class polling at once asks the scheduler once."""
    global _active_cache
    at, tasks = _active_cache
    if time.time() - at > max_age_s:
        tasks = client().run_on_scheduler(_scheduler_tasks)
        _active_cache = (time.time(), tasks)
    return tasks


def _is_active(key: str) -> bool:
    _forget_active()
    return key in _active_tasks()


# ---- the worker side -----------------------------------------------------------------------


def torch_threads() -> int:
    """Torch threads for a job on this worker: ``$EXPLORER_TORCH_THREADS``, else cores / the worker's job slots."""
    if os.environ.get(THREADS_ENV):
        return max(1, int(os.environ[THREADS_ENV]))
    slots = 1
    try:
        from distributed import get_worker

        slots = get_worker().state.nthreads
    except ValueError:  # not inside a worker
        pass
    return max(1, (os.cpu_count() or 1) // max(1, slots))


class JobContext:
    """What a job body gets on the worker: ``report(**fields)`` for progress and ``stop.is_set()``."""

    def __init__(self, key: str, kind: str, title: str = "") -> None:
        from distributed import get_client, get_worker

        self.key = key
        self._client = get_client()
        self._snapshot = {"state": RUNNING, "kind": kind, "title": title, "worker": get_worker().address}
        self._sent = 0.0
        self.stop = _StopFlag(self._client, key)

    def due(self) -> bool:
        """Whether the next ``report`` would be sent (build costly fields only then)."""
        return time.time() - self._sent >= REPORT_S

    def report(self, force: bool = False, **fields) -> None:
        """Merge ``fields`` (msgpack-able) into the job's snapshot; send at most every REPORT_S seconds."""
        self._snapshot.update(fields)
        now = time.time()
        if force or now - self._sent >= REPORT_S:
            self._snapshot["updated"] = now
            self._client.set_metadata(["explorer", self.key], self._snapshot)
            self._sent = now

    def log_start(self) -> None:
        self._client.log_event(STARTED_TOPIC, {"key": self.key, "kind": self._snapshot["kind"]})


class _StopFlag:
    """``is_set()`` reads the job's stop flag from the scheduler (one small request per step)."""

    def __init__(self, client, key: str) -> None:
        self._client, self._key, self._set = client, key, False

    def is_set(self) -> bool:
        if not self._set:
            self._set = bool(self._client.get_metadata(["explorer-stop", self._key], default=False))
        return self._set


class LocalContext:
    """The same interface in-process (the CLI without a scheduler): a callback and a threading.Event."""

    def __init__(self, on_report=None) -> None:
        self.key = ""
        self.stop = threading.Event()
        self.snapshot: dict = {}
        self._on_report = on_report

    def due(self) -> bool:
        return True

    def report(self, force: bool = False, **fields) -> None:
        self.snapshot.update(fields)
        if self._on_report is not None:
            self._on_report(self.snapshot)

    def log_start(self) -> None:
        pass


@functools.cache
def keep_freed_memory() -> bool:
    """Let this worker's allocator keep and reuse freed memory, as a plain Python process does.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also switches off glibc's dynamic
    mmap threshold: every activation tensor is then a fresh mmap whose pages the kernel zeroes again. Training
    the quick preset ran at 83 images/s that way against 221 without it (2 cores); ``mallopt`` puts the
    thresholds back at run time, for embedded and external workers alike. False where there is no glibc.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
        return bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(libc.mallopt(m_trim_threshold, 256 << 20))
    except (OSError, AttributeError):
        return False


def _execute(kind: str, key: str, spec: dict) -> Any:
    """The task every job runs on a worker: set torch threads, run the body, report how it ended."""
    import torch

    from explorer.tasks import TASKS

    keep_freed_memory()
    torch.set_num_threads(torch_threads())
    ctx = JobContext(key, kind, spec.get("title", ""))
    ctx.log_start()
    ctx.report(force=True, phase="starting")
    try:
        out = TASKS[kind](spec, ctx)
    except Exception as e:
        ctx.report(force=True, state=FAILED, message=failure_message(e))
        raise
    ctx.report(force=True, state=CANCELLED if ctx.stop.is_set() else DONE, phase="finished")
    return out
