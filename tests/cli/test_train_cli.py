"""``python -m explorer train`` and ``runs`` end to end at small scale (a real subprocess, real files)."""

import json

import pytest

from explorer.training.runs import load_run
from tests.support.cli import run_cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    r = run_cli(
        "train", "--family", "cifar", "--depth", "8", "--width", "4", "--plain-and-residual", "--steps", "6",
        "--batch-size", "8", "--train-size", "64", "--eval-size", "16", "--image-size", "16", "--eval-every", "3",
        "--threads", "1", "--out", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out, r


def test_train_writes_a_run_and_shows_progress(trained):
    out, r = trained
    assert "6/6" in r.stdout and "img/s" in r.stdout and "run saved" in r.stdout
    run = load_run(out)
    assert set(run.history.models) == {"Plain-8", "ResNet-8"}
    assert run.history.step == 6 and run.train.steps == 6 and run.dataset.name == "shapes"
    assert json.loads((out / "config.json").read_text())["models"]["Plain-8"]["residual"] is False
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("model,step,loss") and len(rows) == 1 + 2 * 6


def test_runs_lists_it_and_extend_continues(trained):
    out, _ = trained
    r = run_cli("runs", "--root", str(out.parent))
    assert r.returncode == 0 and str(out) in r.stdout and "Plain-8" in r.stdout
    r = run_cli("train", "--extend", str(out), "--steps", "2", "--threads", "1")
    assert r.returncode == 0, r.stderr
    run = load_run(out)
    assert run.history.step == 8 and run.history.models["ResNet-8"].step[-3:] == [6, 7, 8]


def test_bad_dataset_is_a_clear_error(tmp_path):
    r = run_cli("train", "--dataset", "mnist", "--data-root", str(tmp_path), "--steps", "1")
    assert r.returncode == 2 and "MNIST" in r.stderr and "Traceback" not in r.stderr
