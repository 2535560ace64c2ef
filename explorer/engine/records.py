"""What a job is, and the records that describe it on the scheduler: the words the engine's client side
(``explorer.engine.jobs``) and its worker side (``explorer.engine.worker``) share.

A ``Job`` names a function ``fn(spec, ctx)``, its ``spec`` and its identity; ``JobStatus`` is what a viewer shows.
A job's record (``set_metadata([JOBS, id])``) says which execution is current and, once it has ended, how. Its end
is written in one place, ``record_end`` under the ``Lock(JOBS)``: by the worker, or by ``jobs.reconcile`` for an
execution Dask gave up on. What the execution has on the scheduler besides (its slot's future, its stop Event) is let
go of then; the record itself goes when the finished records are trimmed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from explorer.engine.progress import PAGE
from explorer.engine.slots import give_back
from explorer.errors import message_of
from explorer.i18n import N_, message, translate

PREFIX = "explorer-"
JOBS = "explorer-jobs"  # the Lock's name and the metadata key of the job records
ENDED = "explorer-ended"  # the metadata key of the ids of the jobs that ended last, oldest first
STARTED_TOPIC = "explorer-started"
KEEP_FINISHED = 64  # finished jobs' records the scheduler keeps (``jobs``, ``watch`` of a job that has ended)
LOCK_TIMEOUT_S = 60

QUEUED, RUNNING, DONE, STOPPED, FAILED, LOST = "queued", "running", "done", "stopped", "failed", "lost"
STATES = (QUEUED, RUNNING, DONE, STOPPED, FAILED, LOST)
ACTIVE = (QUEUED, RUNNING, LOST)

LOST_KEPT = N_(
    "The worker running this job stopped (at step {step}). Its checkpoint at step {checkpoint} is kept; "
    "the job goes on from there when a worker is free."
)
LOST_NOTHING_KEPT = N_(
    "The worker running this job stopped (at step {step}). It had not reached a checkpoint yet; "
    "it starts again when a worker is free."
)
GAVE_UP = N_(
    "The worker running this job stopped several times (a machine crashed, was switched off or ran out of "
    "memory), so the engine gave up on it."
)
CHECKPOINT_KEPT = N_("The checkpoint at step {checkpoint} is kept.")
UNEXPECTED = N_(
    "something went wrong that the app did not expect ({detail}). Try again; if it happens again, tell whoever "
    "looks after this app"
)


# ---- what a job is -----------------------------------------------------------------------------


def identity(kind: str, inputs: Any) -> str:
    """16 hex digits of ``dask.base.tokenize(kind, inputs)``: arrays, bytes and dataclasses hash by content."""
    from dask.base import tokenize

    return tokenize(kind, inputs, ensure_deterministic=True)[:16]


@dataclass(frozen=True)
class Job:
    """What to run: ``fn(spec, ctx)`` on a worker (``ctx``: ``JobContext``), known everywhere by ``id``."""

    kind: str
    fn: Callable[[dict, Any], Any]
    spec: dict = field(repr=False)
    id: str
    title: str = ""

    @property
    def key(self) -> str:
        """The handle sessions keep and links carry: ``explorer-<kind>-<id>``."""
        return f"{PREFIX}{self.kind}-{self.id}"


def make_job(kind: str, fn: Callable[[dict, Any], Any], spec: dict, inputs: Any, title: str = "") -> Job:
    """A Job whose identity hashes ``inputs`` (what it computes: not titles, folders or devices)."""
    return Job(kind, fn, spec, identity(kind, inputs), title or str(spec.get("title", "")))


def job_id(key: str) -> str:
    """The id in a job's key (``explorer-train-<id>``), an execution's key, or an id itself."""
    return str(key).split("/", 1)[0].rsplit("-", 1)[-1]


class EngineUnavailable(OSError):
    """The job engine cannot be reached (or started): the message says which, in plain words."""


_locks: dict[int, tuple[Any, Any]] = {}  # id(client) -> (client, its Lock(JOBS))
_locks_guard = threading.Lock()


def jobs_lock(c):
    """The cluster-wide ``Lock(JOBS)`` around get-or-submit and the job records, one per client (a Lock refreshes
    its leases on a timer of its own: one per client, not one per use)."""
    from distributed import Lock

    with _locks_guard:
        kept = _locks.get(id(c))
        if kept is None or kept[0] is not c:
            with c.as_current():
                kept = _locks[id(c)] = (c, Lock(JOBS))
        return kept[1]


def forget_locks() -> None:
    with _locks_guard:
        _locks.clear()


class Held:
    """``with Held(lock):`` the lock within LOCK_TIMEOUT_S, or EngineUnavailable."""

    def __init__(self, lock) -> None:
        self.lock = lock

    def __enter__(self):
        if not self.lock.acquire(timeout=LOCK_TIMEOUT_S):
            raise EngineUnavailable("the job engine is busy: its lock was not free within a minute")
        return self

    def __exit__(self, *exc) -> None:
        self.lock.release()


@dataclass
class JobStatus:
    """What a viewer shows: state, progress and, while queued, how many jobs run or wait ahead."""

    key: str
    state: str | None  # None: the engine knows no such job
    kind: str = ""
    title: str = ""
    phase: Any = ""  # a plain phase name ("training") or an ``i18n.message`` pair
    step: int = 0
    total: int = 0
    images_per_s: float = 0.0
    eta_s: float = 0.0
    position: int = 0
    note: Any = None  # why it failed or was lost, as an ``i18n.message`` pair
    checkpoint_step: int = 0
    restarts: list = field(default_factory=list)  # [{"worker", "step"}]: workers lost while it ran
    snapshot: dict = field(default_factory=dict, repr=False)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def message(self) -> str:
        """``note`` in the active language ('' if none)."""
        return translate(self.note) if self.note else ""

    @property
    def id(self) -> str:
        return job_id(self.key)

    def to_dict(self) -> dict:
        """What ``python -m explorer jobs --json`` prints for it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "state": self.state,
            "step": self.step,
            "total": self.total,
            "images_per_s": round(self.images_per_s, 1),
        }


def trim_records(c, jid: str) -> None:
    """Count job ``jid`` among the ended ones; past KEEP_FINISHED + PAGE of them (now and then, not at every end),
    forget the oldest records but KEEP_FINISHED (call with the lock held). Each let go of its slot and stop Event
    when it ended (``write_end``): a record is all that is left of an ended job."""
    ended = [j for j in c.get_metadata([ENDED], default=None) or [] if j != jid] + [jid]
    if len(ended) > KEEP_FINISHED + PAGE:
        records = c.get_metadata([JOBS], default={}) or {}
        drop = {j for j in ended[:-KEEP_FINISHED] if "end" in records.get(j, {})}  # not one started again
        c.set_metadata([JOBS], {j: r for j, r in records.items() if j not in drop})
        ended = ended[-KEEP_FINISHED:]
    c.set_metadata([ENDED], ended)


def stop_event(key: str, c):
    """``Event("<execution key>-stop")``: Stop. Dask deletes an Event only when it is cleared."""
    from distributed import Event

    return Event(f"{key}-stop", client=c)


def let_go(c, record: dict) -> None:
    """Let go of what an ended execution had on the scheduler: the future its slot holds (``slots.give_back``)
    and its stop Event."""
    give_back(c, record)
    stop_event(record["key"], c).clear()


def failure_note(exc: BaseException | None, checkpoint: int = 0):
    """Why a job failed, as a message pair: the error's own words for the user (``errors.message_of``), else
    the first line of an unexpected one; never a class name or a traceback."""
    if exc is None:
        return None
    from distributed.scheduler import KilledWorker

    if isinstance(exc, KilledWorker):
        note = message(GAVE_UP)
    elif message_of(exc) is not None:  # written for the user where it was raised: what happened, what to do
        note = message_of(exc)
    else:  # a fault: its first line, never its class name or traceback
        text = str(exc).splitlines()[0] if str(exc) else ""
        note = message(UNEXPECTED, detail=text or message(N_("no details")))
    if checkpoint:
        return message("{a} {b}", a=note, b=message(CHECKPOINT_KEPT, checkpoint=checkpoint))
    return note


def lost_note(st: JobStatus):
    step = max(st.step, st.checkpoint_step)  # the last snapshot may be older than the last checkpoint
    if st.checkpoint_step:
        return message(LOST_KEPT, step=step, checkpoint=st.checkpoint_step)
    return message(LOST_NOTHING_KEPT, step=step)


def end_fields(state: str, st: JobStatus | dict) -> dict:
    get = st.get if isinstance(st, dict) else lambda k, d=None: getattr(st, k, d)
    return {
        "state": state,
        "step": int(get("step", 0) or 0),
        "total": int(get("total", 0) or 0),
        "images_per_s": float(get("images_per_s", 0.0) or 0.0),
        "checkpoint_step": int(get("checkpoint_step", 0) or 0),
        "note": get("note", None),
        "at": time.time(),
    }


def record_end(c, jid: str, key: str, end: dict, lock) -> bool:
    """``write_end`` under ``lock`` (the ``Lock(JOBS)`` of client ``c``)."""
    with Held(lock):
        return write_end(c, jid, key, end)


def write_end(c, jid: str, key: str, end: dict) -> bool:
    """Write how execution ``key`` ended into the job's record, if it is still the current execution, and let go
    of what the job has on the scheduler; trim the finished records. The execution's stop Event is cleared
    whatever the record says. Call with the jobs lock held; True when this call wrote the end."""
    stop_event(key, c).clear()
    record = c.get_metadata([JOBS, jid], default=None)
    if record is None or record.get("key") != key or "end" in record:
        return False
    c.set_metadata([JOBS, jid], {**record, "end": end})
    let_go(c, record)
    trim_records(c, jid)
    return True
