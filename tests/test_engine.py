"""The job engine against a real ``dask scheduler`` and a separate ``dask worker`` on loopback, and embedded.

Each test trains tiny networks (depth 8, width 4, 16-pixel shapes) for a few steps; the processes are
started here and always killed in ``finally``.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from explorer import engine, tasks
from explorer.models import ResNetConfig
from explorer.runs import load_run
from explorer.training import PRESETS

ROOT = Path(__file__).resolve().parents[1]
TWINS = [ResNetConfig(depth=8, width=4, residual=r) for r in (False, True)]
START_TIMEOUT = 120  # the machine may be busy: processes start slowly, but never wait forever

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(args: list[str], log: Path) -> subprocess.Popen:
    """A dask command in its own process group (so killing it takes its children too)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EXPLORER_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with open(log, "wb") as f:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *args], cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


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
    """A real scheduler and workers started with Dask's own commands, as the README says."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.workers = tmp, []
        self.address = f"tcp://127.0.0.1:{free_port()}"
        port = self.address.rsplit(":", 1)[1]
        self.scheduler = spawn(
            ["scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"], tmp / "scheduler.log"
        )

    def add_worker(self) -> subprocess.Popen:
        n = len(self.workers)
        args = ["worker", self.address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"]
        self.workers.append(spawn(args, self.tmp / f"worker{n}.log"))
        return self.workers[-1]

    def wait_for_workers(self, n: int) -> None:
        engine.client().wait_for_workers(n, timeout=START_TIMEOUT)

    def close(self) -> None:
        for w in self.workers:
            kill(w)
        kill(self.scheduler)


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    engine.close()
    c = Cluster(tmp_path)
    try:
        c.add_worker()
        monkeypatch.setenv(engine.SCHEDULER_ENV, c.address)
        c.wait_for_workers(1)
        yield c
    finally:
        engine.close()
        c.close()


def wait_until(pred, timeout=START_TIMEOUT, poll=0.2):
    end = time.time() + timeout
    while time.time() < end:
        value = pred()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError("timed out")


def test_progress_streams_and_identical_jobs_share_one_run(cluster, tmp_path):
    from distributed import Client

    key, spec = tasks.training_job("twins", TWINS, tiny_train(10_000), tmp_path / "runs", checkpoint_every=0)
    again, _ = tasks.training_job("twins again", TWINS, tiny_train(10_000), tmp_path / "other")
    assert again == key  # the key hashes what is computed, not titles or folders
    assert tasks.training_job("x", TWINS, tiny_train(10_000, seed=1), tmp_path)[0] != key

    engine.submit("train", key, spec, "twins")
    engine.submit("train", key, spec, "twins")  # a second session joins
    other = Client(cluster.address, set_as_default=False)  # and another server process
    try:
        joined = other.submit(engine._execute, "train", key, spec, key=key, pure=False)
        seen = {}

        def streamed():
            s = engine.status(key)
            if s.state == engine.RUNNING and s.snapshot.get("history"):
                seen[s.step] = s.snapshot["history"]["models"]
            return len(seen) >= 3

        wait_until(streamed, poll=0.1)  # snapshots arrive while it runs, every step's metrics in each
        for step, models in seen.items():
            assert set(models) == {"Plain-8", "ResNet-8"}
            assert all(len(m["loss"]) == len(m["step"]) == step for m in models.values())
        engine.stop(key)
        st = engine.wait(key, poll_s=0.1, timeout=START_TIMEOUT)
        assert st.state == engine.CANCELLED, st.message
        assert joined.result(timeout=60)["run_dir"] == spec["run_dir"]
    finally:
        other.close()
    assert engine.job_count("train") == 1
    live = st.snapshot["history"]["models"]
    run = load_run(spec["run_dir"])
    assert run.history.step == st.step >= max(seen)
    assert run.history.models["Plain-8"].loss == list(live["Plain-8"]["loss"])
    assert set(engine.result(key)["state_dicts"]) == {"Plain-8", "ResNet-8"}


def test_stop_takes_effect_within_one_step(cluster, tmp_path):
    key, spec = tasks.training_job("long", TWINS[:1], tiny_train(10_000), tmp_path, report_every_step=True)
    engine.submit("train", key, spec, "long")
    wait_until(lambda: engine.status(key).step >= 2)
    engine.stop(key)
    at_stop = engine.status(key).step  # read after the flag is set on the scheduler
    st = engine.wait(key, poll_s=0.1, timeout=START_TIMEOUT)
    assert st.state == engine.CANCELLED
    final = load_run(spec["run_dir"]).history
    assert final.stopped_reason == "cancelled"
    assert at_stop <= final.step <= at_stop + 1


def test_a_killed_worker_is_reported_keeps_its_checkpoint_and_the_job_resumes(cluster, tmp_path):
    key, spec = tasks.training_job("crash", TWINS[:1], tiny_train(10_000), tmp_path, checkpoint_every=2)
    engine.submit("train", key, spec, "crash")
    wait_until(lambda: engine.status(key).checkpoint_step >= 2)
    kill(cluster.workers[0], signal.SIGKILL)  # the machine goes away mid-run
    st = wait_until(lambda: (s := engine.status(key)).state == engine.LOST and s)
    assert "worker running this job stopped" in st.message and "checkpoint at step" in st.message
    tasks.recover_interrupted_save(spec["run_dir"])  # the kill may land between the two renames of a save
    kept = load_run(spec["run_dir"]).history.step
    assert kept >= st.checkpoint_step >= 2
    cluster.add_worker()  # a worker comes back: the job goes on from its checkpoint
    st = wait_until(lambda: (s := engine.status(key)).state == engine.RUNNING and s.step > kept and s)
    assert st.snapshot["resumed_from"] == kept
    engine.stop(key)
    assert engine.wait(key, poll_s=0.1, timeout=START_TIMEOUT).state == engine.CANCELLED


def test_the_embedded_cluster_is_the_default(tmp_path, monkeypatch):
    monkeypatch.delenv(engine.SCHEDULER_ENV, raising=False)
    engine.close()
    try:
        key, spec = tasks.training_job("embedded", TWINS[:1], tiny_train(3), tmp_path)
        engine.submit("train", key, spec, "embedded")
        assert engine.embedded()
        workers = engine.client().scheduler_info()["workers"]
        assert len(workers) == 1 and next(iter(workers.values()))["nthreads"] == 1
        assert engine.client().scheduler.address.startswith("tcp://127.0.0.1:")
        st = engine.wait(key, poll_s=0.2, timeout=START_TIMEOUT)
        assert st.state == engine.DONE, st.message
        assert engine.job_count("train") == 1 and load_run(spec["run_dir"]).history.step == 3
        pids = engine.client().run(os.getpid)
        assert os.getpid() not in pids.values()  # training ran in a worker process, not this one
    finally:
        engine.close()


def test_the_cli_trains_on_the_cluster_and_prints_progress(cluster, tmp_path):
    args = "--depth 8 --width 4 --steps 4 --batch-size 8 --train-size 64 --eval-size 16 --image-size 16 --threads 1"
    r = subprocess.run(
        [sys.executable, "-m", "explorer", "train", "--scheduler", cluster.address, *args.split(), "--root", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=START_TIMEOUT * 2,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"on {cluster.address}" in r.stdout and "4/4" in r.stdout and "img/s" in r.stdout
    assert engine.job_count("train") == 1  # it ran on the worker, not in the CLI's process
    run = load_run(r.stdout.split("run saved: ")[1].strip())
    assert run.history.step == 4 and set(run.history.models) == {"ResNet-8"}


def test_workers_keep_freed_memory_despite_dasks_malloc_trim(tmp_path):
    """Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536 (2.7x slower training here); jobs put glibc back."""
    import subprocess
    import sys

    code = "from explorer import engine; print(engine.keep_freed_memory())"
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True", out.stderr
