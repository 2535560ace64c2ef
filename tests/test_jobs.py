"""The one-at-a-time job queue: order, queue position, cancel, failures."""

import threading
import time

from explorer.jobs import CANCELLED, DONE, FAILED, QUEUED, JobQueue


def wait(job, timeout=10):
    end = time.time() + timeout
    while job.active and time.time() < end:
        time.sleep(0.01)
    return job


def test_jobs_run_one_at_a_time_in_order_with_positions():
    q = JobQueue()
    gate = threading.Event()
    running = []

    def work(name):
        def fn(progress, stop):
            running.append(name)
            gate.wait(5)
            progress(name)
            return name.upper()

        return fn

    a, b, c = (q.submit(n, work(n)) for n in "abc")
    time.sleep(0.2)
    assert running == ["a"]  # b and c wait: only one job at a time
    assert (q.position(a), q.position(b), q.position(c)) == (0, 1, 2)
    assert b.status == QUEUED
    gate.set()
    for j in (a, b, c):
        wait(j)
    assert running == ["a", "b", "c"]
    assert [j.result for j in (a, b, c)] == ["A", "B", "C"]
    assert c.progress == "c" and c.status == DONE


def test_cancel_queued_and_running_jobs():
    q = JobQueue()
    steps = []

    def long(progress, stop):
        for i in range(1000):
            if stop.is_set():
                return i
            steps.append(i)
            time.sleep(0.01)
        return 1000

    a = q.submit("a", long)
    b = q.submit("b", long)
    time.sleep(0.1)
    b.cancel()
    a.cancel()
    wait(a), wait(b)
    assert a.status == CANCELLED and a.result < 1000
    assert b.status == CANCELLED and b.started is None


def test_a_failing_job_is_reported_and_the_queue_goes_on():
    q = JobQueue()

    def boom(progress, stop):
        raise RuntimeError("loss exploded")

    bad = wait(q.submit("bad", boom))
    good = wait(q.submit("good", lambda p, s: 42))
    assert bad.status == FAILED and "loss exploded" in bad.error
    assert good.status == DONE and good.result == 42
