"""Long work as jobs on Dask distributed, on Dask's public primitives only: the scheduler needs nothing of ours.

By default the first job starts an embedded ``LocalCluster`` of worker *processes* (one worker with one
thread: one job at a time, and the web server's own threads never train). ``EXPLORER_SCHEDULER=tcp://HOST:8786``
points the app and the CLI at a cluster started with Dask's own commands instead, from any folder::

    dask scheduler --port 8786                                # needs nothing of this project
    python -m dask worker tcp://HOST:8786 --nthreads 1        # each machine that can import explorer

The engine runs what it is given: a ``Job`` names a function ``fn(spec, ctx)`` (module level, so workers import
it by name), its ``spec`` and its identity, ``id``: ``dask.base.tokenize`` of what the job computes, so identical
requests from any session, server process or machine join one job, and a training run's folder is named by it.
It knows nothing of what the function does. Dask's primitives, and what each is for:

- ``Client`` (one per process, closed at exit; reconnection is Dask's) and a ``WorkerPlugin`` that sets every
  worker up (torch threads, glibc's malloc thresholds);
- ``Lock("explorer-jobs")``: get-or-submit and the job records are changed by one process at a time;
- ``Variable("explorer-<id>")``: the ``Future`` of the job's current execution. Each execution has its own key
  (``explorer-<kind>-<id>/<n>``), so Stop then Start always runs again, whoever still holds an old future; the
  variable keeps a detached job alive after its submitter has gone, and lets go of it when the execution ends
  (it is set to how the job ended: ``Variable.delete`` would leave an event topic and an hour-long timer behind);
- ``Event("<execution key>-stop")``: Stop, read by the worker before every step;
- ``set_metadata(["explorer-jobs", id])``: a small record per job (its execution, kind, title, how it ended),
  what ``jobs`` lists; finished ones are trimmed to the last ``KEEP_FINISHED``;
- ``set_metadata([execution key, ...])``: progress, as bounded messages: the latest snapshot (``snap``) and the
  points added since the last one (chunk ``c/<page>/<i>``, folded into page ``p/<page>`` every ``PAGE`` chunks).
  Dask drops a task's metadata with the task, so nothing of a finished job stays once no one holds its future;
- futures' states and ``Client.scheduler_info()``: failures, and a worker lost mid-run (the scheduler runs the
  execution again on another worker; the job's function resumes from its checkpoint);
- ``log_event("explorer-started")``: a count of jobs that really started (``job_count``).

Messages that cross processes are ``i18n.message`` pairs (msgid, fields), translated where they are shown.
"""

from __future__ import annotations

import pickle
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from explorer.engine.client import client, jobs_lock, lock, on_close
from explorer.engine.records import (
    DONE,
    FAILED,
    JOBS,
    LOST,
    PAGE,
    PREFIX,
    QUEUED,
    RUNNING,
    STARTED_TOPIC,
    STOPPED,
    Held,
    Job,
    JobStatus,
    end_fields,
    failure_note,
    job_id,
    lost_note,
    record_end,
    stop_event,
    trim_records,
)
from explorer.engine.worker import run_job
from explorer.i18n import translate

KEEP_RESULTS = 32  # finished jobs whose futures (results) this process keeps for late viewers
STATUS_MAX_AGE_S = 0.25  # a job's status, shared by the sessions of one process polling it


# ---- what this process keeps beside its client (``engine_client``) ---------------------------------

_futures: OrderedDict[str, Any] = OrderedDict()  # id -> the Future of the execution this process follows
_workers_cache: tuple[float, frozenset] = (0.0, frozenset())
_status_lock = threading.Lock()
_status_cache: OrderedDict[str, tuple[float, Any]] = OrderedDict()  # id -> (when, JobStatus)
_records_cache: tuple[float, dict] = (0.0, {})
_points_lock = threading.Lock()
_points: OrderedDict[str, tuple[str, list, int]] = OrderedDict()  # id -> (execution, points so far, chunks read)


def _forget_all() -> None:
    """What this process keeps of the jobs it follows, forgotten with its client (``engine_client.close``)."""
    global _workers_cache, _records_cache
    _futures.clear()
    with _points_lock:
        _points.clear()
    with _status_lock:
        _status_cache.clear()
    _workers_cache, _records_cache = (0.0, frozenset()), (0.0, {})


on_close(_forget_all)


# ---- submitting, stopping, watching -------------------------------------------------------------


def submit(job: Job) -> str:
    """Run ``job`` on the engine, or join its execution if one is queued or running; returns ``job.key``.

    A job that has stopped, failed or was never run starts a new execution (a new Dask key); one this process
    saw finish is joined (the same inputs give the same result).
    """
    c = client()
    with lock:
        mine = _futures.get(job.id)
        if mine is not None and (
            (mine.status == "pending" and not _stopping(mine.key))
            or (mine.status == "finished" and _done(c, job.id, mine.key))
        ):
            _futures.move_to_end(job.id)
            return job.key  # this process already follows it (or saw it finish): join
        with Held(jobs_lock()):
            record = c.get_metadata([JOBS, job.id], default=None)
            current = None
            if record is not None and "end" not in record:
                current = _variable_future(c, job.id)
            if current is not None and current.status == "pending" and not _stopping(current.key):
                fut = current  # another process submitted it: join
            else:
                from distributed import Variable

                key = f"{job.key}/{uuid.uuid4().hex[:8]}"
                call = _Call(run_job, (job.fn, job.spec, job.id, key, job.kind, job.title))
                fut = c.submit(pickle.loads, pickle.dumps(call, protocol=5), key=key, pure=False)
                Variable(f"{PREFIX}{job.id}", client=c).set(fut)
                c.set_metadata(
                    [JOBS, job.id], {"key": key, "kind": job.kind, "title": job.title, "submitted": time.time()}
                )
                trim_records(c)
        _follow(job.id, fut)
    _forget_status(job.id)
    return job.key


class _Call:
    """``fn(*args)``, made where it is unpickled. A job crosses the scheduler as ``pickle.loads(<bytes>)``: the
    scheduler unpickles every task graph, and this one holds only the standard library and bytes, so the
    scheduler needs nothing of this project; the worker's ``pickle.loads`` imports the job's function and runs it.
    """

    def __init__(self, fn: Callable, args: tuple) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _done(c, jid: str, key: str) -> bool:
    """Whether execution ``key`` of job ``jid`` ended with its work done (not stopped, not failed)."""
    record = c.get_metadata([JOBS, jid], default=None) or {}
    end = record.get("end") or {}
    if record.get("key") == key and end:
        return end.get("state") == DONE
    snap = c.get_metadata([key, "snap"], default=None) or {}
    return snap.get("state") == DONE


def _variable_future(c, jid: str):
    """The Future the job's Variable holds, or None (no such variable: the execution has ended)."""
    from distributed import Variable

    try:
        value = Variable(f"{PREFIX}{jid}", client=c).get(timeout=0.2)
    except (TimeoutError, OSError):
        return None
    return value if hasattr(value, "key") else None


def _follow(jid: str, fut) -> None:
    """Keep ``fut`` as the execution this process follows for job ``jid``; drop the oldest finished ones."""
    with lock:
        old = _futures.pop(jid, None)
        if old is not None and old is not fut and old.key != fut.key:
            old.release()
        _futures[jid] = fut
        done = [k for k, f in _futures.items() if f.done()]
        for k in done[: max(0, len(done) - KEEP_RESULTS)]:
            _futures.pop(k).release()


def _stopping(key: str) -> bool:
    return stop_event(key, client()).is_set()


def stop(key: str) -> bool:
    """Ask job ``key`` (or its id) to stop: a queued job ends before it starts, a running one before its next step.

    False when the job is not queued or running.
    """
    c = client()
    record = c.get_metadata([JOBS, job_id(key)], default=None)
    if record is None or "end" in record:
        return False
    stop_event(record["key"], c).set()
    _forget_status(job_id(key))
    return True


def _live_workers() -> frozenset:
    """The workers the scheduler knows now (asked at most once a second)."""
    global _workers_cache
    at, workers = _workers_cache
    if time.time() - at > 1.0:
        workers = frozenset(client().scheduler_info(n_workers=-1)["workers"])
        _workers_cache = (time.time(), workers)
    return workers


def status(key: str) -> JobStatus:
    """Where job ``key`` (or its id) stands, from the scheduler: works for jobs other processes submitted.

    Sessions of one server process polling the same job share one answer for STATUS_MAX_AGE_S.
    """
    jid = job_id(key)
    with _status_lock:
        cached = _status_cache.get(jid)
    if cached is not None and time.time() - cached[0] < STATUS_MAX_AGE_S:
        return cached[1]
    c = client()
    record = c.get_metadata([JOBS, jid], default=None)
    handle = f"{PREFIX}{record['kind']}-{jid}" if record else (key if str(key).startswith(PREFIX) else jid)
    st = JobStatus(handle, None) if record is None else _status(c, jid, handle, record)
    with _status_lock:
        _status_cache[jid] = (time.time(), st)
        _status_cache.move_to_end(jid)
        while len(_status_cache) > 4 * KEEP_RESULTS:
            _status_cache.popitem(last=False)
    return st


def _forget_status(jid: str) -> None:
    with _status_lock:
        _status_cache.pop(jid, None)


def _records(c, max_age_s: float = 1.0) -> dict:
    """Every job's record (for places in the queue), asked at most once a second."""
    global _records_cache
    at, records = _records_cache
    if time.time() - at > max_age_s:
        records = c.get_metadata([JOBS], default={}) or {}
        _records_cache = (time.time(), records)
    return records


def _status(c, jid: str, handle: str, record: dict, records: dict | None = None) -> JobStatus:
    key = record["key"]
    with lock:
        fut = _futures.get(jid)
    if "end" not in record and (fut is None or fut.key != key):
        fut = _variable_future(c, jid)  # follow the current execution (its result stays while this process holds it)
        if fut is not None:
            _follow(jid, fut)
    snap = c.get_metadata([key, "snap"], default=None) or {}
    end = record.get("end") or {}
    st = JobStatus(
        handle,
        None,
        record.get("kind", ""),
        record.get("title", ""),
        snap.get("phase", ""),
        int(end.get("step", snap.get("step", 0))),
        int(end.get("total", snap.get("total", 0))),
        float(end.get("images_per_s", snap.get("images_per_s", 0.0))),
        float(snap.get("eta_s", 0.0)),
        note=end.get("note", snap.get("note")),
        checkpoint_step=int(end.get("checkpoint_step", snap.get("checkpoint_step", 0))),
        restarts=list(snap.get("restarts", [])),
        snapshot=snap,
    )
    if end:
        st.state = end["state"]
    elif fut is not None and fut.status == "error":
        st.state, st.note = FAILED, failure_note(fut.exception(), st.checkpoint_step)
        record_end(c, jid, key, end_fields(FAILED, st), jobs_lock())  # the worker could not: Dask gave up on it
    elif fut is not None and fut.status == "finished":
        st.state = snap.get("state") if snap.get("state") in (DONE, STOPPED, FAILED) else DONE
    elif snap.get("state") in (DONE, STOPPED, FAILED):
        st.state = snap["state"]
    elif snap.get("worker") and snap["worker"] not in _live_workers():
        st.state, st.note = LOST, lost_note(st)
    elif snap.get("worker"):
        st.state = RUNNING
    else:
        st.state = QUEUED
        mine = record.get("submitted", 0)
        records = _records(c) if records is None else records
        st.position = sum(1 for j, r in records.items() if j != jid and "end" not in r and r.get("submitted", 0) < mine)
    return st


def jobs() -> list[JobStatus]:
    """Every job the engine has a record of (queued, running, and the last KEEP_FINISHED that ended), oldest first."""
    c = client()
    records = c.get_metadata([JOBS], default={}) or {}
    order = sorted(records.items(), key=lambda kv: kv[1].get("submitted", 0))
    return [_status(c, jid, f"{PREFIX}{r.get('kind', '')}-{jid}", r, records) for jid, r in order]


def result(key: str, timeout: float | None = None) -> Any:
    """The finished job's return value if this process submitted, joined or followed it, else None."""
    with lock:
        fut = _futures.get(job_id(key))
    if fut is None or fut.status != "finished":
        return None
    return fut.result(timeout=timeout)


def release(key: str) -> None:
    """Let go of a finished job's result held by this process (the scheduler forgets it once no one holds it)."""
    with lock:
        fut = _futures.pop(job_id(key), None)
    if fut is not None:
        fut.release()


def wait(key: str, on_status=None, poll_s: float = 0.5, timeout: float | None = None) -> JobStatus:
    """Block until job ``key`` ends (or ``timeout``), calling ``on_status(JobStatus)`` as it goes."""
    end = None if timeout is None else time.time() + timeout
    while True:
        st = status(key)
        if on_status is not None:
            on_status(st)
        if not st.active:
            with lock:
                fut = _futures.get(job_id(key))
            if fut is None or fut.done() or st.state is None:
                return st
        if end is not None and time.time() > end:
            return st
        time.sleep(poll_s)


def points(key: str) -> list:
    """Every point the job's current execution has added (``ctx.add_points``), in order.

    Read as bounded messages: only the chunks this process has not read yet, for all its sessions at once.
    Once the execution is forgotten, the points this process read last (its results are where the job saved them).
    """
    c = client()
    jid = job_id(key)
    snap = status(key).snapshot
    execution, n = snap.get("key"), int(snap.get("chunks", 0))
    with _points_lock:
        seen, have, read = _points.get(jid, (None, [], 0))
        if execution is None:
            return list(have)
        if seen != execution:  # a new execution of the job: its own points
            have, read = [], 0
        have = list(have)
        while read < n:
            page, i = divmod(read, PAGE)
            chunks = None
            if (page + 1) * PAGE > n:  # the page being written: its chunks one by one
                partial = c.get_metadata([execution, "c", str(page)], default=None)
                if partial:
                    chunks = [partial[str(j)] for j in range(i, n - page * PAGE) if str(j) in partial]
                    if len(chunks) != n - read:
                        chunks = None
            if chunks is None:  # a whole page (or one folded since the snapshot was read)
                folded = c.get_metadata([execution, "p", str(page)], default=None)
                if folded is None:
                    break
                chunks = folded[i:]
            for chunk in chunks:
                have.extend(chunk)
            read += len(chunks)
        _points[jid] = (execution, have, read)
        _points.move_to_end(jid)
        while len(_points) > KEEP_RESULTS:
            _points.popitem(last=False)
    return list(have)


def job_count(kind: str | None = None) -> int:
    """How many jobs (of ``kind``) really started on the engine's workers: the scheduler's event log.

    Counts starts, not submissions (joined requests do not start a job); an execution run again on a second
    worker after the first died counts twice. Dask keeps the last events of a topic only.
    """
    events = client().get_events(STARTED_TOPIC)
    return sum(1 for _, msg in events if kind is None or msg.get("kind") == kind)


def failure_message(exc: BaseException | None, st: JobStatus | None = None) -> str:
    """Plain words for why a job failed, in the active language."""
    note = failure_note(exc, st.checkpoint_step if st else 0)
    return translate(note) if note else ""


def lost_message(st: JobStatus) -> str:
    return translate(lost_note(st))
