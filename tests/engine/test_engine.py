"""The job engine against a real ``dask scheduler`` and separate ``dask worker`` processes on loopback, and embedded.

The scheduler starts from a temporary folder outside the project, without PYTHONPATH, and with ``explorer`` made
unimportable in it: it must need nothing of ours. Each test trains tiny networks (depth 8, width 4, 16-pixel
shapes) for a few steps, or runs ``explorer.tasks.count.count_task``; the processes are started here and always
killed at the end. One cluster serves the whole module (and each UI test module that imports the fixture).
"""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from explorer.engine import client as engine_client
from explorer.engine import jobs as engine
from explorer.engine import records as engine_records
from explorer.i18n import language
from explorer.models.config import ResNetConfig
from explorer.tasks import training as tasks
from explorer.tasks.count import count_job
from explorer.training.lockstep import PRESETS
from explorer.training.runs import load_run
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
TWINS = [ResNetConfig(depth=8, width=4, residual=r) for r in (False, True)]
START_TIMEOUT = 120  # the machine may be busy: processes start slowly, but never wait forever
# `dask scheduler`, as the README starts it, in a Python that cannot import this project even where it is installed
SCHEDULER = "import sys; sys.modules['explorer'] = None; from dask.cli import run_cli; run_cli()"
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


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", engine_client.SCHEDULER_ENV)}
    return {**env, "EXPLORER_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1", **extra}


def spawn(args: list[str], log: Path, cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    """A process in its own process group (so killing it takes its children too)."""
    with open(log, "wb") as f:
        return subprocess.Popen(args, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)


def kill(proc: subprocess.Popen | None, sig=signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


class Cluster:
    """A scheduler and workers started with Dask's own commands, from a folder outside the project."""

    def __init__(self, home: Path, preload: Path | None = None) -> None:
        self.home, self.workers = home, []
        self.address = f"tcp://127.0.0.1:{free_port()}"
        port = self.address.rsplit(":", 1)[1]
        args = [sys.executable, "-c", SCHEDULER, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"]
        args += ["--preload", str(preload)] if preload else []
        # Dask's developer logs (transitions, events) keep their last 1000 entries, about 2 MB of a busy scheduler:
        # 100 here, so that the memory test's warm-up fills them and what it measures is what jobs leave behind
        env = clean_env(DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH="100")
        self.scheduler = spawn(args, home / "scheduler.log", home, env)

    def add_worker(self) -> subprocess.Popen:
        n = len(self.workers)
        args = [sys.executable, "-m", "dask", "worker", self.address, "--nthreads", "1", "--host", "127.0.0.1"]
        # Workers import explorer. Until the set-up installs the project (`pip install -e .`, on its way from
        # another branch) they find it through PYTHONPATH; the scheduler never gets it.
        env = clean_env(PYTHONPATH=str(ROOT))
        self.workers.append(spawn([*args, "--no-dashboard"], self.home / f"worker{n}.log", self.home, env))
        return self.workers[-1]

    def wait_for_workers(self, n: int) -> None:
        engine.client().wait_for_workers(n, timeout=START_TIMEOUT)

    def close(self) -> None:
        for w in self.workers:
            kill(w)
        kill(self.scheduler)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    engine_client.close()
    home = tmp_path_factory.mktemp("dask-cluster")
    assert ROOT not in home.parents
    c = Cluster(home)
    try:
        c.add_worker()
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(engine_client.SCHEDULER_ENV, c.address)
            c.wait_for_workers(1)
            yield c
    finally:
        engine_client.close()
        c.close()


def wait_until(pred, timeout=START_TIMEOUT, poll=0.2):
    end = time.time() + timeout
    while time.time() < end:
        value = pred()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError("timed out")


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
    assert final.stopped_reason == "cancelled"
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
    r = cli("watch", "0123456789abcdef", scheduler=cluster.address)
    assert r.returncode == 3 and r.stderr.strip() == "error: the engine knows no job 0123456789abcdef", r.stderr
    r = cli("stop", "0123456789abcdef", scheduler=cluster.address)
    assert r.returncode == 3 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = cli("jobs", scheduler=f"tcp://127.0.0.1:{free_port()}")  # nothing listens there
    assert r.returncode == 4 and r.stderr.strip().splitlines() == [r.stderr.strip()], r.stderr
    assert "cannot be reached: nothing is listening on 127.0.0.1 port" in r.stderr and "Traceback" not in r.stderr
    preload = tmp_path / "other_dask.py"  # a scheduler that says it runs another Dask
    preload.write_text(
        "import distributed.versions as v\n"
        "if not hasattr(v, 'real_version'):\n"
        "    v.real_version = v._version_cached\n"
        "    v._version_cached = lambda pkg: '2000.1.0' if pkg == 'distributed' else v.real_version(pkg)\n"
    )
    other = Cluster(tmp_path, preload=preload)
    try:
        r = cli("jobs", "--json", scheduler=other.address)
    finally:
        other.close()
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


def test_two_hundred_short_jobs_leave_nothing_on_the_scheduler(cluster):
    """Each job's entries leave the scheduler once it has ended and no one holds it: 200 jobs (done, failed,
    stopped, detached) grow the scheduler's memory by at most a few MB."""
    import psutil
    from distributed import Variable

    c = engine.client()
    scheduler = psutil.Process(cluster.scheduler.pid)

    def run(seeds) -> list[str]:
        jobs = []
        for seed in seeds:
            kind = seed % 10
            jobs.append(count_job(400 if kind == 2 else 5, sleep=0.01 if kind == 2 else 0.0, seed=seed,
                                  fail_at=3 if kind == 1 else None))  # fmt: skip
        executions = []
        for job in jobs:
            engine.submit(job)
            executions.append(engine._futures[job.id].key)
            if job.spec["n"] == 400:
                engine.stop(job.key)
        for job in jobs[::4]:
            engine.release(job.key)  # as a CLI that detached and exited: the job's Variable keeps it alive
        for job in jobs:
            st = engine.wait(job.key, poll_s=0.02, timeout=START_TIMEOUT)
            assert st.state in (engine.DONE, engine.FAILED, engine.STOPPED), st
            engine.release(job.key)  # as the app does once the run is saved
        return executions

    run(range(10_000, 10_050))  # warm up: first-time allocations
    time.sleep(1)
    rss = scheduler.memory_info().rss
    executions = []
    for batch in range(4):
        executions += run(range(batch * 50, batch * 50 + 50))
    wait_until(lambda: all(c.get_metadata([key], default=None) is None for key in executions), timeout=30)
    time.sleep(1)
    grown = (scheduler.memory_info().rss - rss) / 2**20
    records = c.get_metadata([engine.JOBS], default={})
    assert len(records) <= engine_records.KEEP_FINISHED + engine.PAGE and all("end" in r for r in records.values())
    for key in executions[::20]:  # each job's Variable has let go of its execution
        assert isinstance(Variable(f"{engine.PREFIX}{engine.job_id(key)}", client=c).get(timeout=5), str)
    print(f"200 jobs: the scheduler grew by {grown:.2f} MB")
    assert grown < 2.5, f"the scheduler grew by {grown:.1f} MB"


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
        pids = engine.client().run(os.getpid)
        assert os.getpid() not in pids.values()  # training ran in a worker process, not this one
        assert engine.client() is engine.client()  # one client per process
    finally:
        engine_client.close()
    assert engine_client._client is None and not engine_client.embedded()


def test_workers_keep_freed_memory_despite_dasks_malloc_trim():
    """Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536 (2.7x slower training here); the plugin puts glibc back."""
    code = "from explorer import engine_worker; print(engine_worker.keep_freed_memory())"
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True", out.stderr


def test_messages_from_workers_are_translated_where_they_are_shown():
    failed = engine.JobStatus("explorer-train-0123456789abcdef", engine.FAILED, note=engine_records.failure_note(None))
    assert failed.message == ""
    lost = engine.JobStatus("explorer-train-0123456789abcdef", engine.LOST, step=161, checkpoint_step=150)
    lost.note = engine_records.lost_note(lost)
    assert lost.message.startswith("The worker running this job stopped (at step 161). Its checkpoint at step 150")
    with language("zh"):
        assert "第 161 步" in lost.message and "第 150 步" in lost.message
        assert "运行此任务的工作进程多次停止" in engine.failure_message(type("KilledWorker", (Exception,), {})())
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
