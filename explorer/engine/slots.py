"""A bounded pool of ``distributed.Variable`` names, ``explorer-slot-<i>`` (i < SLOTS), that hold the futures of
the executions that are queued or running.

A Variable holds a job's future so that the job lives on after its submitter has gone and another process can
find it. Each job gets a slot, not a Variable of its own: deleting a Variable makes the scheduler remove a client
named after it, which opens an event topic of that name and keeps its key for good, so a Variable per job would
leave something behind on the scheduler for every job ever run. A slot is taken at submit, under the jobs lock, and
given back when the execution ends: its Variable is then set to None, which lets go of the future (nothing is
deleted). The job's record keeps its slot number; a reader checks the future's key against the record's execution,
because a slot given back may already hold another job's future.
"""

from __future__ import annotations

# jobs queued or running at once on one scheduler; a submit waits for a free slot beyond that. Slots are taken
# lowest first, so the Variables that exist are as many as the most jobs that were ever open at once.
SLOTS = 1024
SLOT_PREFIX = "explorer-slot-"


def slot_variable(slot: int, c):
    """``Variable("explorer-slot-<slot>")`` through client ``c``."""
    from distributed import Variable

    return Variable(f"{SLOT_PREFIX}{slot}", client=c)


def free_slot(records: dict, jid: str) -> int | None:
    """The slot for a new execution of job ``jid``: the one its open record holds, else the lowest that no open
    record holds; None when all SLOTS are taken. ``records``: every job's record (jobs lock held)."""
    own = records.get(jid) or {}
    if "end" not in own and own.get("slot") is not None:
        return own["slot"]  # a new execution replaces the job's own: its slot goes with it
    taken = {r.get("slot") for j, r in records.items() if j != jid and "end" not in r}
    return next((i for i in range(SLOTS) if i not in taken), None)


def slot_future(c, record: dict | None):
    """The Future of ``record``'s execution if its slot still holds it, else None (ended, or the slot reused)."""
    slot = (record or {}).get("slot")
    if slot is None:
        return None
    try:
        value = slot_variable(slot, c).get(timeout=0.2)
    except (TimeoutError, OSError):
        return None
    if getattr(value, "key", None) != record.get("key"):
        if value is not None and hasattr(value, "release"):
            value.release()  # another execution's future: not ours to hold
        return None
    return value


def give_back(c, record: dict) -> None:
    """Let go of the future ``record``'s slot holds (jobs lock held, the record's execution ended)."""
    if record.get("slot") is not None:
        slot_variable(record["slot"], c).set(None)
