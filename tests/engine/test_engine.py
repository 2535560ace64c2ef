"""The job engine against a real ``dask scheduler`` and separate ``dask worker`` processes on loopback, and embedded.

The scheduler starts from a temporary folder outside the project, without PYTHONPATH, and with ``explorer`` made
unimportable in it: it must need nothing of ours. Each test trains tiny networks (depth 8, width 4, 16-pixel
shapes) for a few steps, or runs ``explorer.tasks.count.count_task``. One cluster serves the whole run (the
``cluster`` fixture of ``tests/conftest.py``): tests keep apart by distinct job ids. What jobs leave on the scheduler
is counted with ``run_on_scheduler`` here, in tests only (the engine itself never uses it).
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from explorer.deploy.ports import free_port
from explorer.engine import client as engine_client
from explorer.engine import jobs as engine
from explorer.engine import records as engine_records
from explorer.engine import slots as engine_slots
from explorer.i18n import language
from explorer.models.config import ResNetConfig
from explorer.tasks import training as tasks
from explorer.tasks.count import count_job
from explorer.training.presets import PRESETS
from explorer.training.runs import load_run
from tests.engine.cluster import ROOT, START_TIMEOUT, Cluster, clean_env, kill, spawn, wait_until
from tests.support.cli import two_at_a_time

TWINS = [ResNetConfig(depth=8, width=4, residual=r) for r in (False, True)]
TINY_ARGS = [
    "--depth",
    "8",
    "--width",
    "4",
    "--batch-size",
    "8",
    "--train-size",
    "64",
    "--eval-size",
    "16",
    "--image-size",
    "16",
    "--threads",
    "1",
]

pytestmark = pytest.mark.slow


def tiny_train(steps: int, seed: int = 0):
    return replace(
        PRESETS["quick"],
        steps=steps,
        batch_size=8,
        train_size=64,
        eval_size=16,
        eval_every=2,
        record_every=0,
        image_size=16,
        seed=seed,
    )


def cli(*args: str, scheduler: str | None = None, timeout: float = START_TIMEOUT * 2) -> subprocess.CompletedProcess:
    extra = ["--scheduler", scheduler] if scheduler else []
    env = clean_env(DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="3s")
    cmd = [sys.executable, "-m", "explorer", *args, *extra]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def cli_bg(*args: str, scheduler: str, log: Path) -> subprocess.Popen:
    env = clean_env(DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="3s")
    return spawn([sys.executable, "-m", "explorer", *args, "--scheduler", scheduler], log, ROOT, env)


def test_progress_streams_as_bounded_messages_and_identical_requests_share_one_job(cluster, tmp_path):
    import threading

    from distributed.protocol import serialize_bytes

    job = tasks.training_job("twins", TWINS, tiny_train(10_000), tmp_path / "runs", checkpoint_every=0)
    again = tasks.training_job("twins again", TWINS, tiny_train(10_000), tmp_path / "other")
    assert again.id == job.id  # the identity hashes what is computed, not titles or folders
    assert tasks.training_job("x", TWINS, tiny_train(10_000, seed=1), tmp_path).id != job.id
    before = engine.job_count("train")

    gate = threading.Barrier(30)
    errors = []

    def press():  # 30 sessions press Start at once
        gate.wait()
        try:
            engine.submit(job)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=press) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    seen, sizes = {}, []

    def streamed():
        s = engine.status(job.key)
        if s.state == engine.RUNNING and s.step:
            sizes.append(len(serialize_bytes(s.snapshot)))
            seen[s.step] = tasks.live_history(s.snapshot, engine.points(job.key))
        return len(seen) >= 4 and max(seen) >= 40

    wait_until(streamed, poll=0.1)  # snapshots and new points arrive while it runs
    for step, history in seen.items():
        assert set(history.models) == {"Plain-8", "ResNet-8"}
        assert all(m.step[:step] == list(range(1, step + 1)) for m in history.models.values())
    assert max(sizes) < 4000  # the latest snapshot only: no curve history in it, however long the run
    engine.stop(job.key)
    st = engine.wait(job.key, poll_s=0.1, timeout=START_TIMEOUT)
    assert st.state == engine.STOPPED, st.message
    assert engine.job_count("train") - before == 1
    run = load_run(job.spec["run_dir"])
    live = tasks.live_history(st.snapshot, engine.points(job.key))
    assert run.history.step == st.step >= max(seen)
    assert run.history.models["Plain-8"].loss == live.models["Plain-8"].loss
    assert run.history.models["ResNet-8"].eval_accuracy == live.models["ResNet-8"].eval_accuracy
    assert set(engine.result(job.key)["state_dicts"]) == {"Plain-8", "ResNet-8"}


def test_stop_takes_effect_within_one_step(cluster, tmp_path):
    job = tasks.training_job("long", TWINS[:1], tiny_train(10_000), tmp_path, report_every_step=True)
    engine.submit(job)
    wait_until(lambda: engine.status(job.key).step >= 2)
    engine.stop(job.key)
    at_stop = engine.status(job.key).step  # read after the event is set on the scheduler
    st = engine.wait(job.key, poll_s=0.1, timeout=START_TIMEOUT)
    assert st.state == engine.STOPPED
    final = load_run(job.spec["run_dir"]).history
    assert final.stopped_reason == "stopped"
    assert at_stop <= final.step <= at_stop + 1


HOLDER = """
import json, sys
from distributed import Future
from explorer.engine import jobs as engine
st = engine.status(sys.argv[1])  # follows the job's current execution, as a second server process does
held = Future(engine._futures[st.id].key, engine.client())  # and keeps it, whatever happens next
print(json.dumps({"held": held.key}), flush=True)
for _line in sys.stdin:
    st = engine.status(sys.argv[1])
    print(json.dumps({"state": st.state, "step": st.step, "held": held.key, "status": held.status}), flush=True)
"""


def test_stop_then_start_runs_again_while_another_process_holds_the_old_future(cluster, tmp_path):
    job = tasks.training_job("again", TWINS[:1], tiny_train(10_000, seed=2), tmp_path, report_every_step=True)
    engine.submit(job)
    wait_until(lambda: engine.status(job.key).step >= 3)
    env = clean_env(**{engine_client.SCHEDULER_ENV: cluster.address})
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, job.id], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        first = json.loads(holder.stdout.readline())["held"]
        assert first.startswith(f"{job.key}/")  # one execution of the job
        engine.stop(job.key)
        stopped = engine.wait(job.key, poll_s=0.1, timeout=START_TIMEOUT)
        assert stopped.state == engine.STOPPED
        started = engine.job_count("train")
        assert engine.submit(job) == job.key  # Start again, on the same settings
        again = wait_until(
            lambda: (s := engine.status(job.key)).state == engine.RUNNING and s.step > stopped.step and s
        )
        assert again.snapshot["resumed_from"] == stopped.step and not again.message
        assert engine.job_count("train") == started + 1
        holder.stdin.write("status\n")
        holder.stdin.flush()
        seen = json.loads(holder.stdout.readline())  # the other process sees the new run, and still holds the old
        assert seen["state"] == engine.RUNNING and seen["step"] > stopped.step, seen
        assert seen["held"] == first and seen["status"] == "finished"
    finally:
        holder.stdin.close()
        holder.wait(30)
    engine.stop(job.key)
    assert engine.wait(job.key, poll_s=0.1, timeout=START_TIMEOUT).state == engine.STOPPED


def test_the_cli_trains_on_the_cluster_and_prints_progress(cluster, tmp_path):
    r = cli("train", *TINY_ARGS, "--steps", "4", "--root", str(tmp_path), scheduler=cluster.address)
    assert r.returncode == 0, r.stderr
    assert f"on {cluster.address}" in r.stdout and "4/4" in r.stdout and "img/s" in r.stdout
    job = r.stdout.split("job ")[1].split()[0]
    assert engine.status(job).state == engine.DONE  # it ran on the worker, not in the CLI's process
    run = load_run(r.stdout.split("run saved: ")[1].strip())
    assert run.history.step == 4 and set(run.history.models) == {"ResNet-8"}
    assert run.path.name == f"train-{job}"  # the run's folder is named by the job


def test_the_job_cli_detaches_lists_stops_and_watches(cluster, tmp_path):
    r = cli("train", *TINY_ARGS, "--steps", "100000", "--root", str(tmp_path), "--detach", scheduler=cluster.address)
    assert r.returncode == 0, r.stderr
    job = r.stdout.strip().splitlines()[-1]  # the last line: the job's id
    assert len(job) == 16 and engine.status(job).kind == "train"
    wait_until(lambda: engine.status(job).step >= 2)  # it runs with no client of the CLI's left
    watch = cli_bg("watch", job, scheduler=cluster.address, log=tmp_path / "watch.log")
    r = cli("jobs", "--json", scheduler=cluster.address)
    assert r.returncode == 0, r.stderr
    listed = {j["id"]: j for j in json.loads(r.stdout)}
    assert set(listed[job]) == {"id", "kind", "title", "state", "step", "total", "images_per_s"}
    assert listed[job]["state"] == "running" and listed[job]["kind"] == "train" and listed[job]["total"] == 100000
    assert all(j["state"] in engine_records.STATES for j in listed.values())
    r = cli("stop", job, scheduler=cluster.address)
    assert r.returncode == 0 and "stopping job" in r.stdout, r.stderr
    assert watch.wait(START_TIMEOUT) == 2  # stopped
    assert "stopped at step" in (tmp_path / "watch.log").read_text()
    assert engine.status(job).state == engine.STOPPED


def test_an_unknown_job_no_scheduler_or_another_dask_is_one_line_not_a_traceback(cluster, tmp_path):
    preload = tmp_path / "other_dask.py"  # a scheduler that says it runs another Dask
    preload.write_text(
        "import distributed.versions as v\n"
        "if not hasattr(v, 'real_version'):\n"
        "    v.real_version = v._version_cached\n"
        "    v._version_cached = lambda pkg: '2000.1.0' if pkg == 'distributed' else v.real_version(pkg)\n"
    )
    other = Cluster(tmp_path, preload=preload)  # it starts while the first commands run
    try:  # four independent commands, each in its own interpreter
        watch, stop, nowhere, r = two_at_a_time(
            [
                partial(cli, "watch", "0123456789abcdef", scheduler=cluster.address),
                partial(cli, "stop", "0123456789abcdef", scheduler=cluster.address),
                partial(cli, "jobs", scheduler=f"tcp://127.0.0.1:{free_port()}"),  # nothing listens there
                partial(cli, "jobs", "--json", scheduler=other.address),
            ]
        )
    finally:
        other.close()
    assert watch.returncode == 3, watch.stderr
    assert watch.stderr.strip() == "error: the engine knows no job 0123456789abcdef", watch.stderr
    assert stop.returncode == 3 and len(stop.stderr.strip().splitlines()) == 1, stop.stderr
    assert nowhere.returncode == 4 and nowhere.stderr.strip().splitlines() == [nowhere.stderr.strip()], nowhere.stderr
    assert "cannot be reached: nothing is listening on 127.0.0.1 port" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr
    assert r.returncode == 4 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "runs Dask distributed 2000.1.0" in r.stderr and "Traceback" not in r.stderr


def test_a_killed_worker_is_reported_the_job_resumes_from_its_checkpoint_and_watch_sees_it_through(cluster, tmp_path):
    steps = 600
    args = ["train", *TINY_ARGS, "--steps", str(steps), "--checkpoint-every", "20", "--root", str(tmp_path)]
    r = cli(*args, "--name", "crash", "--detach", scheduler=cluster.address)
    assert r.returncode == 0, r.stderr
    job = r.stdout.strip().splitlines()[-1]
    watch = cli_bg("watch", job, scheduler=cluster.address, log=tmp_path / "watch.log")
    try:
        running = wait_until(lambda: (s := engine.status(job)).checkpoint_step >= 20 and s, poll=0.05)
        assert running.state == engine.RUNNING and running.step < steps - 100, running
        running_on = running.snapshot["worker"]
        victims = [w for w in cluster.workers if w.poll() is None]
        for w in victims:
            kill(w, signal.SIGKILL)  # the machine goes away mid-run
        st = wait_until(lambda: (s := engine.status(job)).state == engine.LOST and s)
        assert "worker running this job stopped" in st.message and "checkpoint at step" in st.message
        with language("zh"):
            assert "运行此任务的工作进程停止了" in engine.status(job).message  # translated where it is shown
        kept = load_run(tmp_path / f"crash-{job}").history.step
        assert kept >= st.checkpoint_step >= 20
        cluster.add_worker()  # a worker comes back: the job goes on from its checkpoint
        assert watch.wait(START_TIMEOUT) == 0  # done
    finally:
        kill(watch)
    said = (tmp_path / "watch.log").read_text()
    assert f"({running_on}) was lost at step" in said and "resumed from the checkpoint at step" in said, said
    run = load_run(tmp_path / f"crash-{job}")
    assert run.history.step == steps and run.history.finished
    assert run.history.models["ResNet-8"].step == list(range(1, steps + 1))  # the whole history, no gap, no repeat


# What the scheduler holds of explorer's jobs, read in the scheduler (its extensions: no public API lists them)
COUNT_ON_SCHEDULER = """
def explorer_state(dask_scheduler):
    ours = lambda names: sorted(str(n) for n in names if str(n).startswith("explorer-"))
    ext = dask_scheduler.extensions
    return {
        "variables": ours(ext["variables"].variables),
        "events": ours(ext["events"]._events),
        "metadata": ours(dask_scheduler.task_metadata),
        "clients": sorted(c for c in dask_scheduler.clients if c.startswith("variable-explorer-")),
        "topics": sorted(t for t in dask_scheduler._broker._topics if str(t).startswith("variable-explorer-")),
        "all_topics": sorted(str(t) for t in dask_scheduler._broker._topics),
    }
"""


def scheduler_state(c) -> dict:
    namespace = {"__name__": "__main__"}  # pickled by value: the scheduler cannot import this module
    exec(COUNT_ON_SCHEDULER, namespace)
    return c.run_on_scheduler(namespace["explorer_state"])


def test_a_thousand_short_jobs_leave_the_scheduler_bounded_by_the_kept_records(cluster):
    """Every job's stop Event and progress go when it ends, and its slot lets go of its future; the records are
    trimmed. The slots' Variables are never deleted: no client or event topic is left per job.

    1,000 jobs, as the engine promises: far above every bound counted below (the records kept, the results kept),
    so a leak of one thing for even the quarter of the jobs released early breaks a bound; leaks named by a job
    are looked for by name."""
    c = engine.client()
    topics_before = scheduler_state(c)["all_topics"]
    jobs = [count_job(0, seed=1_000_000 + i) for i in range(1000)]
    stopped = [count_job(10_000, sleep=0.01, seed=2_000_000 + i) for i in range(5)]
    bound = 2 + engine_records.KEEP_FINISHED + engine_records.PAGE + engine.KEEP_RESULTS
    assert len(jobs[::4]) > bound  # enough jobs that a leak shows
    for job in jobs[:500] + stopped + jobs[500:]:
        engine.submit(job)
    for job in stopped:
        engine.stop(job.key)
    for job in jobs[::4]:
        engine.release(job.key)  # as a CLI that detached and exited: the job's Variable keeps it alive
    for job in jobs + stopped:  # None: it ended, and so many after it that its record was trimmed
        assert engine.wait(job.key, poll_s=0.05, timeout=START_TIMEOUT).state in (engine.DONE, engine.STOPPED, None)
        engine.release(job.key)  # as the app does once the run is saved
    records = c.get_metadata([engine.JOBS], default={})
    assert len(records) <= engine_records.KEEP_FINISHED + engine_records.PAGE
    active = [jid for jid, r in records.items() if "end" not in r]
    ours = {job.id for job in jobs + stopped}

    def settled():  # the scheduler forgets a released execution (and its progress) a moment later
        state = scheduler_state(c)
        return not [m for m in state["metadata"] if engine.job_id(m) in ours] and state

    state = wait_until(settled, timeout=30)
    for kind in ("variables", "events", "clients", "topics"):
        assert not [n for n in state[kind] if engine.job_id(n.removesuffix("-stop")) in ours], (kind, state[kind])
    assert len(state["events"]) <= len(active), state["events"]
    for kind in ("variables", "clients"):  # the pool's slots, each a Variable and the client that holds its future
        assert len(state[kind]) <= engine_slots.SLOTS, (kind, state[kind])
        assert all(n.removeprefix("variable-").startswith(engine_slots.SLOT_PREFIX) for n in state[kind]), state[kind]
    assert not state["topics"], state["topics"]  # no Variable was deleted
    new_topics = sorted(set(state["all_topics"]) - set(topics_before))
    # no event topic per job: the first jobs on a fresh cluster open a few of Dask's own, once
    assert len(new_topics) < 10, new_topics
    # the records, the ended list and the executions that this process or a kept record may still hold
    assert len(state["metadata"]) <= 2 + len(records) + engine.KEEP_RESULTS, state["metadata"]


def test_status_polls_return_while_a_submit_waits_on_a_busy_jobs_lock(cluster):
    from distributed import Client, Lock

    ended = count_job(1, seed=3_000_001)
    engine.submit(ended)
    assert engine.wait(ended.key, poll_s=0.05, timeout=START_TIMEOUT).state == engine.DONE
    other = Client(cluster.address, set_as_default=False)  # another server process
    try:
        with other.as_current():
            held = Lock(engine.JOBS)
        assert held.acquire(timeout=30)
        waiting = threading.Thread(target=engine.submit, args=(count_job(1, seed=3_000_002),), daemon=True)
        waiting.start()
        time.sleep(0.5)
        took = []
        for _ in range(4):
            time.sleep(engine.STATUS_MAX_AGE_S)  # past the shared answer: each poll asks the scheduler
            t0 = time.monotonic()
            assert engine.status(ended.key).state == engine.DONE
            took.append(time.monotonic() - t0)
        assert max(took) < 0.5, took
        assert waiting.is_alive()  # the submit still waits on the lock
        held.release()
        waiting.join(START_TIMEOUT)
    finally:
        other.close()


def test_stop_as_the_job_ends_leaves_no_event_behind(cluster, monkeypatch):
    """Stop reads the record, then sets the Event: the job ends in between (made certain here)."""
    c = engine.client()
    job = count_job(3, sleep=0.3, seed=3_000_003)
    engine.submit(job)
    wait_until(lambda: engine.status(job.key).state == engine.RUNNING, poll=0.05)
    read = c.get_metadata

    def read_then_let_the_job_end(keys, default=None):
        value = read(keys, default=default)
        if list(keys) == [engine.JOBS, job.id]:
            key = value["key"]
            wait_until(lambda: (read([key, "snap"], default=None) or {}).get("state") == engine.DONE, poll=0.02)
            time.sleep(1.0)  # and the worker records its end, if nothing holds it back
        return value

    monkeypatch.setattr(c, "get_metadata", read_then_let_the_job_end)
    engine.stop(job.key)
    monkeypatch.undo()
    assert engine.wait(job.key, poll_s=0.05, timeout=START_TIMEOUT).state in (engine.DONE, engine.STOPPED)
    events = scheduler_state(c)["events"]
    assert not [e for e in events if job.id in e], events


class BusyRecords:
    """The first end a worker records fails as on a busy jobs lock (then the real one is back)."""

    def __init__(self, real) -> None:
        self.real = real

    def __call__(self, *args, **kwargs):
        from explorer.engine import worker

        worker.record_end = self.real
        raise engine_records.EngineUnavailable("the job engine is busy: its lock was not free within a minute")


def fail_while_the_records_are_busy(spec: dict, ctx) -> None:
    from explorer.engine import worker

    worker.record_end = BusyRecords(worker.record_end)
    raise ValueError("the job's own reason")


def test_a_job_whose_end_cannot_be_recorded_still_says_why_it_failed_and_polls_only_read(cluster):
    c = engine.client()
    job = engine_records.make_job("busy", fail_while_the_records_are_busy, {}, {"seed": 3_000_004})
    engine.submit(job)
    st = engine.wait(job.key, poll_s=0.05, timeout=START_TIMEOUT)
    assert st.state == engine.FAILED and "the job's own reason" in st.message, st.message
    for _ in range(3):  # polls report it, and write nothing
        time.sleep(engine.STATUS_MAX_AGE_S)
        assert "the job's own reason" in engine.status(job.key).message
    assert "end" not in c.get_metadata([engine.JOBS, job.id])
    assert engine.reconcile() >= 1  # the one step that records it
    record = c.get_metadata([engine.JOBS, job.id])
    assert record["end"]["state"] == engine.FAILED
    time.sleep(engine.STATUS_MAX_AGE_S)
    assert "the job's own reason" in engine.status(job.key).message
    held = engine_slots.slot_variable(record["slot"], c).get(timeout=5)  # its slot let go of its future
    assert getattr(held, "key", None) != record["key"]


def test_a_slot_taken_by_another_job_never_hands_a_reader_that_jobs_execution(cluster, monkeypatch):
    """A reader that read a job's record while it ran may find its slot already holding another job's future."""
    c = engine.client()
    first, second = count_job(3, seed=4_000_001), count_job(40, sleep=0.05, seed=4_000_002)
    engine.submit(first)
    assert engine.wait(first.key, poll_s=0.05, timeout=START_TIMEOUT).state == engine.DONE
    assert engine.result(first.key) == {"counted": 3}
    engine.release(first.key)  # as another process would be: it follows nothing of the first job
    engine.submit(second)
    ran = c.get_metadata([engine.JOBS, second.id])
    as_it_ran = {**c.get_metadata([engine.JOBS, first.id]), "slot": ran["slot"]}  # the first job's slot, reused
    del as_it_ran["end"]
    assert engine_slots.slot_variable(ran["slot"], c).get(timeout=5).key == ran["key"]
    assert engine_slots.slot_future(c, as_it_ran) is None
    assert engine_slots.slot_future(c, ran).key == ran["key"]
    read = c.get_metadata
    monkeypatch.setattr(
        c,
        "get_metadata",
        lambda keys, default=None: as_it_ran if list(keys) == [engine.JOBS, first.id] else read(keys, default=default),
    )
    engine._statuses.forget(first.id)
    assert engine.status(first.key).state != engine.RUNNING
    assert engine._following(first.id) is None and engine.result(first.key) is None
    monkeypatch.undo()
    assert engine.wait(second.key, poll_s=0.05, timeout=START_TIMEOUT).state == engine.DONE
    assert engine.result(second.key) == {"counted": 40}
    assert engine._following(first.id) is None


def test_a_submit_waits_for_a_free_slot_and_says_so_when_none_comes(cluster, monkeypatch):
    c = engine.client()
    records = c.get_metadata([engine.JOBS], default={}) or {}
    taken = {r.get("slot") for r in records.values() if "end" not in r}
    monkeypatch.setattr(engine_slots, "SLOTS", next(i for i in range(10**6) if i not in taken) + 1)  # one free
    long, waiting = count_job(10_000, sleep=0.01, seed=4_000_003), count_job(2, seed=4_000_004)
    engine.submit(long)
    monkeypatch.setattr(engine, "LOCK_TIMEOUT_S", 1)
    with pytest.raises(engine_records.EngineUnavailable, match="the job engine is full"):
        engine.submit(waiting)
    monkeypatch.setattr(engine, "LOCK_TIMEOUT_S", START_TIMEOUT)
    submitting = threading.Thread(target=engine.submit, args=(waiting,), daemon=True)
    submitting.start()
    time.sleep(1.0)
    assert submitting.is_alive() and c.get_metadata([engine.JOBS, waiting.id], default=None) is None
    engine.stop(long.key)
    submitting.join(START_TIMEOUT)
    assert engine.wait(long.key, poll_s=0.05, timeout=START_TIMEOUT).state == engine.STOPPED
    assert engine.wait(waiting.key, poll_s=0.05, timeout=START_TIMEOUT).state == engine.DONE


def test_a_worker_lost_for_good_is_told_by_its_type():
    from distributed.scheduler import KilledWorker

    lost = KilledWorker("explorer-train-0123456789abcdef/1", None, 3)
    assert engine.failure_message(lost).startswith("The worker running this job stopped several times")
    named_alike = type("KilledWorker", (Exception,), {})("boom")  # a class name is not a type
    assert "boom" in engine.failure_message(named_alike)


def test_the_embedded_cluster_is_the_default(tmp_path, monkeypatch):
    monkeypatch.delenv(engine_client.SCHEDULER_ENV, raising=False)
    engine_client.close()
    try:
        job = tasks.training_job("embedded", TWINS[:1], tiny_train(3), tmp_path)
        engine.submit(job)
        assert engine_client.embedded()
        workers = engine.client().scheduler_info()["workers"]
        assert len(workers) == 1 and next(iter(workers.values()))["nthreads"] == 1
        assert engine.client().scheduler.address.startswith("tcp://127.0.0.1:")
        st = engine.wait(job.key, poll_s=0.2, timeout=START_TIMEOUT)
        assert st.state == engine.DONE, st.message
        assert engine.job_count("train") == 1 and load_run(job.spec["run_dir"]).history.step == 3
        environ = engine.client().run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_", "unset"))
        assert set(environ.values()) == {"unset"}  # Dask's knob (pre-spawn-environ): no malloc trimming, no mallopt
        pids = engine.client().run(os.getpid)
        assert os.getpid() not in pids.values()  # training ran in a worker process, not this one
        assert engine.client() is engine.client()  # one client per process
    finally:
        engine_client.close()
    assert engine_client._client is None and not engine_client.embedded()


# 100 blocks of 1 MiB from malloc, touched, freed: how much of them the process still holds (MiB)
KEPT_AFTER_FREE = """
import ctypes, sys
from explorer.engine import glibc
if sys.argv[1] == "keep":
    assert glibc.keep_freed_memory()
libc = glibc.libc()
libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
rss = lambda: int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
before = rss()
blocks = [libc.malloc(1 << 20) for _ in range(100)]
for b in blocks:
    ctypes.memset(b, 1, 1 << 20)
for b in blocks:
    libc.free(b)
print(rss() - before)
"""


def test_keep_freed_memory_keeps_what_dasks_malloc_trim_hands_back():
    """Under Dask's MALLOC_TRIM_THRESHOLD_ every large block is a fresh mmap, handed back when freed (and faulted in
    again on the next step); with glibc's thresholds back, freed memory stays for reuse."""
    from explorer.engine import glibc

    if glibc.libc() is None:
        pytest.skip("not glibc: keep_freed_memory does nothing there, by design")
    env = {**os.environ, glibc.TRIM_ENV: "65536", "PYTHONPATH": str(ROOT)}

    def kept(mode: str) -> float:
        run = [sys.executable, "-c", KEPT_AFTER_FREE, mode]
        out = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return float(out.stdout)

    assert kept("dask") < 20  # handed back
    assert kept("keep") > 80  # kept for reuse


def test_messages_from_workers_are_translated_where_they_are_shown():
    from distributed.scheduler import KilledWorker

    failed = engine.JobStatus("explorer-train-0123456789abcdef", engine.FAILED, note=engine_records.failure_note(None))
    assert failed.message == ""
    lost = engine.JobStatus("explorer-train-0123456789abcdef", engine.LOST, step=161, checkpoint_step=150)
    lost.note = engine_records.lost_note(lost)
    assert lost.message.startswith("The worker running this job stopped (at step 161). Its checkpoint at step 150")
    with language("zh"):
        assert "第 161 步" in lost.message and "第 150 步" in lost.message
        lost = KilledWorker("explorer-train-0123456789abcdef/1", None, 3)
        assert "运行此任务的工作进程多次停止" in engine.failure_message(lost)
    from explorer.ui.job_view import phase_text

    phase = ["network {i} of {n}", {"i": 2, "n": 3}]  # as msgpack brings it back from the scheduler
    assert phase_text(phase) == "network 2 of 3"
    with language("zh"):
        assert phase_text(phase) == "第 2 个网络，共 3 个" and phase_text("training") == "训练中"


def test_an_unreachable_scheduler_is_explained_in_plain_words():
    """Dask says only that it timed out: one TCP connection tells a closed port, an unknown host and a listener
    that is no scheduler apart (the CLI's and the pages' message say which)."""
    import socket

    port = free_port()
    assert engine_client.unreachable_reason(f"tcp://127.0.0.1:{port}") == (
        f"nothing is listening on 127.0.0.1 port {port}: start a scheduler there with `dask scheduler --port {port}`"
    )
    with socket.create_server(("127.0.0.1", 0)) as other:  # a service that is not a scheduler
        port = other.getsockname()[1]
        assert engine_client.unreachable_reason(f"tcp://127.0.0.1:{port}").startswith(
            f"something listens on 127.0.0.1 port {port} but did not answer as a Dask scheduler"
        )
    assert "is not known" in engine_client.unreachable_reason("tcp://no-such-host.invalid:8786")
    assert "is not an address" in engine_client.unreachable_reason("tcp://localhost")


def test_several_workers_on_one_machine_share_its_cores_out(monkeypatch):
    """Each one-job worker alone would take every core: with W of them, each job gets cores // W torch threads."""
    from explorer.engine.client import worker_threads
    from explorer.engine.worker import THREADS_ENV, torch_threads

    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert worker_threads(1) == {} and worker_threads(2) == {THREADS_ENV: "4"}
    assert worker_threads(16) == {THREADS_ENV: "1"}
    monkeypatch.setenv(THREADS_ENV, worker_threads(4)[THREADS_ENV])  # what a worker started with it reads
    assert torch_threads(slots=1) == 2
    assert worker_threads(4) == {}  # set by hand: kept
