"""The gradient by path length of a saved run: the CLI's contract, its refusal of a plain network, and the job."""

import json
from math import comb
from pathlib import Path

import pytest

from explorer.engine import worker as engine_worker
from explorer.experiments.path_lengths import load_path_lengths, run_paths, untrained_paths
from explorer.interpret.paths import PathResult
from explorer.tasks.paths import paths_job, paths_task
from tests.support.cli import run_cli

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "experiments"


def test_the_cli_writes_the_contract_and_the_same_seed_gives_the_same_numbers(tiny_run, tmp_path):
    out = tmp_path / "a.json"
    args = ("--run", str(tiny_run), "--network", "ResNet-8", "--samples", "4", "--images", "16", "--seed", "5")
    r = run_cli("paths", *args, "--threads", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    a = json.loads(out.read_text())
    assert a == run_paths(tiny_run, "ResNet-8", samples=4, seed=5, images=16).to_dict()  # another process, same seed
    assert a != run_paths(tiny_run, "ResNet-8", samples=4, seed=6, images=16).to_dict()
    assert (a["network"], a["blocks"], a["samples"], a["seed"]) == ("ResNet-8", 3, 4, 5)
    assert [row["paths"] for row in a["lengths"]] == [comb(3, k) for k in range(4)]
    assert all(row["grad_per_path"]["mean"] > 0 and row["grad_per_path"]["se"] >= 0 for row in a["lengths"])
    assert abs(sum(row["total"] for row in a["lengths"]) - 1) < 1e-9
    lo, hi = a["effective_range"]
    assert sum(row["total"] for row in a["lengths"][lo : hi + 1]) >= 0.9
    assert PathResult.from_dict(a).to_dict() == a
    r = run_cli("paths", *args, "--threads", "1", "--target-se", "0.1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    b = json.loads(out.read_text())
    assert b == run_paths(tiny_run, "ResNet-8", samples=4, seed=5, images=16, target_se=0.1).to_dict()
    lo, hi = b["effective_range"]
    assert all(row["grad_per_path"]["se"] <= 0.1 * row["grad_per_path"]["mean"] for row in b["lengths"][lo : hi + 1])


def test_a_plain_network_gets_one_plain_line_and_a_non_zero_exit(tiny_run, tmp_path):
    r = run_cli("paths", "--run", str(tiny_run), "--network", "Plain-8", "--samples", "2", "--out", str(tmp_path / "p"))
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no residual blocks" in lines[0] and "Traceback" not in r.stderr
    assert not (tmp_path / "p").exists()


def test_the_job_names_what_it_computes_returns_the_cli_s_numbers_and_stops(tiny_run):
    job = paths_job(tiny_run, ["ResNet-8"], samples=4, seed=1)
    assert job.id == paths_job(tiny_run, ["ResNet-8"], samples=4, seed=1).id
    assert job.id != paths_job(tiny_run, ["ResNet-8"], samples=5, seed=1).id
    ctx = engine_worker.LocalContext()
    (result,) = paths_task(job.spec, ctx)
    assert result.to_dict() == run_paths(tiny_run, "ResNet-8", samples=4, seed=1).to_dict()
    assert ctx.snapshot["step"] == ctx.snapshot["total"]
    stopped = engine_worker.LocalContext()
    stopped.stop.set()
    assert paths_task(job.spec, stopped) == []


@pytest.mark.slow
def test_the_shipped_asset_is_what_the_code_computes():
    data = load_path_lengths(ASSETS)
    if data is None:
        pytest.skip("assets/experiments/path_lengths.json is missing (make assets)")
    shipped = data["init"]["ResNet-20"]
    again = untrained_paths(20, data["samples"], data["seed"], size=data["size"], target_se=data.get("target_se"))
    assert again.paths == shipped.paths and again.effective_range == shipped.effective_range
    assert again.mean == pytest.approx(shipped.mean, rel=1e-4)  # torch's threads may split sums differently
    for name, r in {**data["init"], **data["trained"]}.items():
        lo, hi = r.effective_range
        assert sum(r.total) == pytest.approx(1.0) and sum(r.total[lo : hi + 1]) >= 0.9, name
