"""A class experiment's pair on a real scheduler and worker (the session's ``cluster``): one job however often it
is pressed, its result recorded in the experiment by the worker, and the CLI's contract (``run``, ``show --json``).
Tiny: ResNet-8 pairs, 16-pixel shapes, 3 steps."""

import json
import math
import signal
import subprocess
import sys
from dataclasses import replace

import pytest

from explorer.engine import jobs as engine
from explorer.experiments import class_experiment as ce
from explorer.tasks import class_experiment as tasks
from explorer.training.runs import load_run
from tests.engine.cluster import ROOT, START_TIMEOUT, clean_env, kill, wait_until

TINY = replace(ce.RECIPE, batch_size=8, train_size=64, eval_size=16, image_size=16)

pytestmark = pytest.mark.slow


def test_a_pair_trains_once_however_often_pressed_and_is_recorded(cluster, tmp_path):
    exp = ce.new_experiment(tmp_path, depths=(8,), steps=3, recipe=TINY)
    job = tasks.contribution_job(exp, 8, seed=5)
    assert tasks.contribution_job(exp, 8, seed=5).id == job.id
    assert tasks.contribution_job(exp, 8, seed=6).id != job.id
    with pytest.raises(ValueError, match="measures depths 8, not 20"):
        tasks.contribution_job(exp, 20, seed=5)
    before = engine.job_count("class")
    for _press in range(3):  # a student pressing three times
        engine.submit(job)
    st = engine.wait(job.key, timeout=START_TIMEOUT * 4)
    assert st.state == "done", st.message
    assert engine.job_count("class") == before + 1
    (pair,) = ce.load(tmp_path, exp.code).results  # the worker recorded it: the folder is on its machine
    assert (pair.depth, pair.seed, pair.steps) == (8, 5, 3)
    assert all(math.isfinite(pair.final_loss[k]) and 0 <= pair.heldout_acc[k] <= 1 for k in ce.KINDS)
    assert tasks.record_from(tmp_path, exp.code, engine.result(job.key))  # the page's record: the same pair, once
    assert ce.load(tmp_path, exp.code).results == (pair,)
    engine.release(job.key)


def test_a_pair_whose_worker_is_lost_resumes_from_its_checkpoint_and_is_recorded_once(cluster, tmp_path):
    """The machine training a student's pair goes away mid-run: the job is reported lost with its checkpoint, and
    when a worker comes back the pair goes on from there and is recorded, with its whole history."""
    steps = 400
    exp = ce.new_experiment(tmp_path, depths=(8,), steps=steps, recipe=TINY)
    job = tasks.contribution_job(exp, 8, seed=3, checkpoint_every=20)
    engine.submit(job)
    try:
        running = wait_until(lambda: (s := engine.status(job.key)).checkpoint_step >= 20 and s, poll=0.05)
        assert running.state == engine.RUNNING and running.step < steps - 100, running
        for w in [w for w in cluster.workers if w.poll() is None]:
            kill(w, signal.SIGKILL)
        lost = wait_until(lambda: (s := engine.status(job.key)).state == engine.LOST and s)
        assert "checkpoint at step" in lost.message and not ce.load(tmp_path, exp.code).results
        cluster.add_worker()
        st = engine.wait(job.key, timeout=START_TIMEOUT * 4)
        assert st.state == "done", st.message
    finally:
        engine.release(job.key)
    (pair,) = ce.load(tmp_path, exp.code).results
    assert (pair.depth, pair.seed, pair.steps) == (8, 3, steps)
    (run,) = [load_run(d) for d in (exp.path / "pairs").iterdir() if d.is_dir()]
    assert run.history.finished and run.history.models["ResNet-8"].step == list(range(1, steps + 1))


def cli(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "explorer", "class-experiment", *args]
    env = clean_env(DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="3s")
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=START_TIMEOUT * 4)


def test_the_cli_runs_a_pair_on_the_cluster_and_shows_the_json_contract(cluster, tmp_path):
    exp = ce.new_experiment(tmp_path, depths=(8, 14), steps=3, recipe=TINY)
    root = ["--root", str(tmp_path)]
    r = cli("run", exp.code.lower(), "--depth", "8", "--seed", "2", *root, "--scheduler", cluster.address)
    assert r.returncode == 0, r.stderr
    assert "done: 3 of 3 steps" in r.stdout and "Runs so far: 2" in r.stdout
    r = cli("show", exp.code, "--json", *root)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["code"] == exp.code and out["depths"] == [8, 14]
    assert [(x["depth"], x["residual"], x["seed"], x["steps"]) for x in out["runs"]] == [
        (8, False, 2, 3),
        (8, True, 2, 3),
    ]
    assert set(out["runs"][0]) == {"depth", "residual", "seed", "final_loss", "heldout_acc", "steps"}
    plain = out["summary"]["8"]["plain"]
    assert plain["n"] == 1 and plain["median_loss"] == plain["q25"] == plain["q75"] == out["runs"][0]["final_loss"]
    assert out["summary"]["14"]["residual"] == {"n": 0, "median_loss": None, "q25": None, "q75": None}
    r = cli("csv", exp.code, *root)
    assert r.returncode == 0 and r.stdout.splitlines()[0] == "depth,kind,seed,final_loss,heldout_acc,steps,student"
    assert len(r.stdout.splitlines()) == 3
