"""A one-at-a-time job queue for long work (training, sweeps) on a background thread.

The CPU threads are shared by every user of a server, so one job runs at a time and the others wait
their turn. The worker never touches the UI: a page polls ``job.status``, ``job.progress`` and
``job.position`` (Streamlit's multithreading guide: no ``st.*`` calls from worker threads).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, CANCELLED, FAILED = "queued", "running", "done", "cancelled", "failed"

# a job's work: fn(progress_callback, stop_event) -> result
Work = Callable[[Callable[[Any], None], threading.Event], Any]


@dataclass
class Job:
    """One unit of long work; read its fields from any thread."""

    id: int
    title: str
    work: Work = field(repr=False)
    owner: str = ""
    status: str = QUEUED
    progress: Any = None
    result: Any = None
    error: str | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    stop: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def active(self) -> bool:
        return self.status in (QUEUED, RUNNING)

    def cancel(self) -> None:
        """Ask the job to stop: a queued job never starts, a running one stops between steps."""
        self.stop.set()


class JobQueue:
    """Runs submitted jobs one at a time, in order, on a daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[Job] = []
        self._current: Job | None = None
        self._ids = itertools.count(1)
        self._thread = threading.Thread(target=self._run, name="explorer-jobs", daemon=True)
        self._thread.start()

    def submit(self, title: str, work: Work, owner: str = "") -> Job:
        """Queue ``work``; returns its Job at once."""
        job = Job(next(self._ids), title, work, owner)
        with self._wake:
            self._pending.append(job)
            self._wake.notify()
        return job

    def position(self, job: Job) -> int:
        """0 while running or finished, k when k jobs run or wait ahead of it."""
        with self._lock:
            if job not in self._pending:
                return 0
            return self._pending.index(job) + (self._current is not None)

    @property
    def current(self) -> Job | None:
        return self._current

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending:
                    self._wake.wait()
                job = self._pending.pop(0)
                self._current = job
            self._execute(job)
            with self._lock:
                self._current = None

    def _execute(self, job: Job) -> None:
        if job.stop.is_set():
            job.status, job.finished = CANCELLED, time.time()
            return
        job.status, job.started = RUNNING, time.time()

        def report(progress: Any) -> None:
            job.progress = progress

        try:
            job.result = job.work(report, job.stop)
            job.status = CANCELLED if job.stop.is_set() else DONE
        except Exception as e:  # a failed job must not kill the queue; the page shows the reason
            log.exception("job %s failed", job.title)
            job.error = f"{type(e).__name__}: {e}"
            job.status = FAILED
        finally:
            job.finished = time.time()
