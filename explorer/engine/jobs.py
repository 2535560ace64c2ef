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
- ``Lock("explorer-jobs")``: get-or-submit, Stop and the job records are changed by one process at a time;
- ``Variable("explorer-slot-<i>")``, one of a bounded pool (``explorer.engine.slots``): the ``Future`` of the
  job's current execution, whose record names the slot. Each execution has its own key
  (``explorer-<kind>-<id>/<n>``), so Stop then Start always runs again, whoever still holds an old future; the
  slot keeps a detached job alive after its submitter has gone, and is set to None when the execution ends;
- ``Event("<execution key>-stop")``: Stop, read by the worker before every step, cleared when the execution ends;
- ``set_metadata(["explorer-jobs", id])``: a small record per job (its execution, kind, title, how it ended),
  what ``jobs`` lists; finished ones are trimmed to the last ``KEEP_FINISHED``, with what they had on the scheduler;
- ``set_metadata([execution key, ...])``: progress, as bounded messages (``explorer.engine.progress``). Dask drops
  a task's metadata with the task, so nothing of a finished job stays once no one holds its future;
- futures' states and ``Client.scheduler_info()``: failures, and a worker lost mid-run (the scheduler runs the
  execution again on another worker; the job's function resumes from its checkpoint);
- ``log_event("explorer-started")``: a count of jobs that really started (``job_count``).

Messages that cross processes are ``i18n.message`` pairs (msgid, fields), translated where they are shown.

No process lock is held across a call to the scheduler: one session's slow submit never stalls another's poll.
Reads only read; a job's end is written by its worker, or by ``reconcile`` (under the jobs lock) for an execution
Dask gave up on or whose worker could not record it.
"""

from __future__ import annotations

import pickle
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from explorer.engine.client import client, on_close
from explorer.engine.progress import ProgressLog
from explorer.engine.recent import Recent
from explorer.engine.records import (
    DONE,
    FAILED,
    JOBS,
    LOCK_TIMEOUT_S,
    LOST,
    PREFIX,
    QUEUED,
    RUNNING,
    STARTED_TOPIC,
    STOPPED,
    EngineUnavailable,
    Held,
    Job,
    JobStatus,
    end_fields,
    failure_note,
    job_id,
    jobs_lock,
    lost_note,
    stop_event,
    write_end,
)
from explorer.engine.slots import free_slot, slot_future, slot_variable
from explorer.engine.worker import run_job
from explorer.i18n import translate

KEEP_RESULTS = 32  # finished jobs whose futures (results) this process keeps for late viewers
STATUS_MAX_AGE_S = 0.25  # a job's status, shared by the sessions of one process polling it
FULL_POLL_S = 0.25  # how often a submit looks again for a free slot while every slot is taken


# ---- what this process keeps beside its client (``explorer.engine.client``) ------------------------
# Each lock guards its table only, never a call to the scheduler.

_futures_lock = threading.Lock()
_futures: OrderedDict[str, Any] = OrderedDict()  # id -> the Future of the execution this process follows
_statuses = Recent(STATUS_MAX_AGE_S, size=4 * KEEP_RESULTS)  # id -> JobStatus
_workers = Recent(1.0)  # the workers the scheduler knows
_records = Recent(1.0)  # every job's record (places in the queue)
_points_lock = threading.Lock()
_points: OrderedDict[str, tuple[str, list, int]] = OrderedDict()  # id -> (execution, points so far, chunks read)


def _forget_all() -> None:
    """What this process keeps of the jobs it follows, forgotten with its client."""
    with _futures_lock:
        _futures.clear()
    with _points_lock:
        _points.clear()
    for cache in (_statuses, _workers, _records):
        cache.forget()


on_close(_forget_all)


def _following(jid: str):
    """The Future of job ``jid``'s execution this process follows, or None."""
    with _futures_lock:
        return _futures.get(jid)


def _follow(jid: str, fut) -> None:
    """Keep ``fut`` as the execution this process follows for job ``jid``; drop the oldest finished ones."""
    with _futures_lock:
        old = _futures.pop(jid, None)
        _futures[jid] = fut
        done = [k for k, f in _futures.items() if f.done()]
        dropped = [_futures.pop(k) for k in done[: max(0, len(done) - KEEP_RESULTS)]]
    if old is not None and old is not fut and old.key != fut.key:
        dropped.append(old)
    for f in dropped:
        f.release()


# ---- submitting, stopping, watching -------------------------------------------------------------


def submit(job: Job) -> str:
    """Run ``job`` on the engine, or join its execution if one is queued or running; returns ``job.key``.

    A job that has stopped, failed or was never run starts a new execution (a new Dask key); one this process
    saw finish is joined (the same inputs give the same result).
    """
    c = client()
    mine = _following(job.id)
    if mine is not None and (
        (mine.status == "pending" and not _stopping(c, mine.key))
        or (mine.status == "finished" and _done(c, job.id, mine.key))
    ):
        _follow(job.id, mine)
        return job.key  # this process already follows it (or saw it finish): join
    fut = _submit_when_a_slot_is_free(c, job)
    _follow(job.id, fut)
    _statuses.forget(job.id)
    return job.key


def _submit_when_a_slot_is_free(c, job: Job):
    """``_current_or_new`` under the jobs lock, again every FULL_POLL_S (the lock let go in between) while every
    slot is taken; EngineUnavailable if none is free within LOCK_TIMEOUT_S."""
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    tidy = True  # the first time the pool is full, record the ends of executions that ended without one
    while True:
        with Held(jobs_lock(c)):
            fut = _current_or_new(c, job, tidy)
        if fut is not None:
            return fut
        if time.monotonic() > deadline:
            raise EngineUnavailable(
                "the job engine is full: as many jobs as it takes are queued or running; try again when some have ended"
            )
        tidy = False
        time.sleep(FULL_POLL_S)


def _current_or_new(c, job: Job, tidy: bool = True):
    """The execution of ``job`` another process started and that still runs, else a new one in a free slot; None
    when every slot is taken (jobs lock held)."""
    record = c.get_metadata([JOBS, job.id], default=None)
    if record is not None and "end" not in record:
        current = slot_future(c, record)
        if current is not None and current.status == "pending" and not _stopping(c, current.key):
            return current  # another process submitted it: join
        _reconcile(c, job.id, record, current)
    records = c.get_metadata([JOBS], default={}) or {}
    slot = free_slot(records, job.id)
    if slot is None and tidy and _reconcile_open(c, records):
        slot = free_slot(c.get_metadata([JOBS], default={}) or {}, job.id)
    if slot is None:
        return None
    key = f"{job.key}/{uuid.uuid4().hex[:8]}"
    call = _Call(run_job, (job.fn, job.spec, job.id, key, job.kind, job.title))
    fut = c.submit(pickle.loads, pickle.dumps(call, protocol=5), key=key, pure=False)
    slot_variable(slot, c).set(fut)
    record = {"key": key, "slot": slot, "kind": job.kind, "title": job.title, "submitted": time.time()}
    c.set_metadata([JOBS, job.id], record)
    return fut


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
    return ProgressLog(c, key).snapshot().get("state") == DONE


def _stopping(c, key: str) -> bool:
    return stop_event(key, c).is_set()


def _reconcile(c, jid: str, record: dict, fut) -> bool:
    """Record the end of job ``jid``'s current execution if it has ended without one: Dask gave up on it (a lost
    worker, a function that would not import) or its worker could not record it. Jobs lock held."""
    key = record["key"]
    if "end" in record or fut is None or fut.key != key or not fut.done():
        return False
    snap = ProgressLog(c, key).snapshot()
    if fut.status == "error":
        note = failure_note(fut.exception(), int(snap.get("checkpoint_step", 0) or 0))
        end = end_fields(FAILED, {**snap, "note": note})
    elif fut.status == "finished":
        end = end_fields(snap["state"] if snap.get("state") in (DONE, STOPPED, FAILED) else DONE, snap)
    else:  # cancelled: nobody held it any more
        end = end_fields(STOPPED, snap)
    return write_end(c, jid, key, end)


def reconcile() -> int:
    """Record the end of every execution that ended without one (``_reconcile``); returns how many."""
    c = client()
    with Held(jobs_lock(c)):
        return _reconcile_open(c, c.get_metadata([JOBS], default={}) or {})


def _reconcile_open(c, records: dict) -> int:
    """``_reconcile`` every open record of ``records`` (jobs lock held); returns how many ended."""
    open_ = [(jid, r) for jid, r in records.items() if "end" not in r]
    return sum(_reconcile(c, jid, r, slot_future(c, r)) for jid, r in open_)


def stop(key: str) -> bool:
    """Ask job ``key`` (or its id) to stop: a queued job ends before it starts, a running one before its next step.

    False when the job is not queued or running. The jobs lock orders it with the end of the execution, so a Stop
    that comes as the job ends sets no Event that nobody would clear.
    """
    c = client()
    jid = job_id(key)
    with Held(jobs_lock(c)):
        record = c.get_metadata([JOBS, jid], default=None)
        if record is None or "end" in record:
            return False
        fut = _following(jid)
        fut = fut if fut is not None and fut.key == record["key"] else slot_future(c, record)
        if _reconcile(c, jid, record, fut):
            return False  # it had ended already: Dask gave up on it
        stop_event(record["key"], c).set()
    _statuses.forget(jid)
    return True


def status(key: str) -> JobStatus:
    """Where job ``key`` (or its id) stands, from the scheduler: works for jobs other processes submitted.

    Sessions of one server process polling the same job share one answer for STATUS_MAX_AGE_S.
    """
    jid = job_id(key)
    return _statuses.get(jid, lambda: _ask_status(key, jid))


def _ask_status(key: str, jid: str) -> JobStatus:
    c = client()
    record = c.get_metadata([JOBS, jid], default=None)
    handle = f"{PREFIX}{record['kind']}-{jid}" if record else (key if str(key).startswith(PREFIX) else jid)
    return JobStatus(handle, None) if record is None else _status(c, jid, handle, record)


def _live_workers(c) -> frozenset:
    """The workers the scheduler knows now (asked at most once a second)."""
    return _workers.get(None, lambda: frozenset(c.scheduler_info(n_workers=-1)["workers"]))


def _status(c, jid: str, handle: str, record: dict, records: dict | None = None) -> JobStatus:
    """What the scheduler says of job ``jid`` (a read: it writes nothing)."""
    key = record["key"]
    fut = _following(jid)
    if "end" not in record and (fut is None or fut.key != key):
        fut = slot_future(c, record)  # follow the current execution (its result stays while this process holds it)
        if fut is not None:
            _follow(jid, fut)
    snap = ProgressLog(c, key).snapshot()
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
    _set_state(c, st, jid, record, end, snap, fut, records)
    return st


def _set_state(c, st: JobStatus, jid: str, record: dict, end: dict, snap: dict, fut, records: dict | None) -> None:
    if end:
        st.state = end["state"]
    elif fut is not None and fut.status == "error":  # Dask gave up on it; ``reconcile`` records it
        st.state, st.note = FAILED, failure_note(fut.exception(), st.checkpoint_step)
    elif fut is not None and fut.status == "finished":
        st.state = snap.get("state") if snap.get("state") in (DONE, STOPPED, FAILED) else DONE
    elif snap.get("state") in (DONE, STOPPED, FAILED):
        st.state = snap["state"]
    elif snap.get("worker") and snap["worker"] not in _live_workers(c):
        st.state, st.note = LOST, lost_note(st)
    elif snap.get("worker"):
        st.state = RUNNING
    else:
        st.state = QUEUED
        mine = record.get("submitted", 0)
        if records is None:
            records = _records.get(None, lambda: c.get_metadata([JOBS], default={}) or {})
        st.position = sum(1 for j, r in records.items() if j != jid and "end" not in r and r.get("submitted", 0) < mine)


def jobs() -> list[JobStatus]:
    """Every job the engine has a record of (queued, running, and the last KEEP_FINISHED that ended), oldest first."""
    c = client()
    records = c.get_metadata([JOBS], default={}) or {}
    order = sorted(records.items(), key=lambda kv: kv[1].get("submitted", 0))
    return [_status(c, jid, f"{PREFIX}{r.get('kind', '')}-{jid}", r, records) for jid, r in order]


def result(key: str, timeout: float | None = None) -> Any:
    """The finished job's return value if this process submitted, joined or followed it, else None."""
    fut = _following(job_id(key))
    if fut is None or fut.status != "finished":
        return None
    return fut.result(timeout=timeout)


def release(key: str) -> None:
    """Let go of a finished job's result held by this process (the scheduler forgets it once no one holds it)."""
    with _futures_lock:
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
            fut = _following(job_id(key))
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
    jid = job_id(key)
    snap = status(key).snapshot
    execution, n = snap.get("key"), int(snap.get("chunks", 0))
    with _points_lock:
        seen, have, read = _points.get(jid, (None, [], 0))
    if execution is None:
        return list(have)
    if seen != execution:  # a new execution of the job: its own points
        have, read = [], 0
    chunks = ProgressLog(client(), execution).chunks(read, n) if read < n else []
    with _points_lock:
        kept = _points.get(jid)
        if kept is not None and kept[0] == execution and kept[2] >= read + len(chunks):
            return list(kept[1])  # another session read as far meanwhile
        have = have + [p for chunk in chunks for p in chunk]
        _points[jid] = (execution, have, read + len(chunks))
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
