"""The full-batch run's precomputed landscapes (assets/experiments/landscape-full-batch) are what the CLI computes:
a few grid points and the init line's midpoint, computed afresh, match the shipped numbers."""

import json
from pathlib import Path

import pytest
import torch

from explorer.experiments.landscape import run_landscape
from explorer.experiments.landscape_records import describe, load_landscapes
from explorer.training.runs import load_run

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "assets" / "runs" / "degradation-full-batch"
FOLDER = ROOT / "assets" / "experiments" / "landscape-full-batch"
NETWORKS = ("Plain-20", "ResNet-20", "Plain-56", "ResNet-56")


@pytest.fixture(scope="module")
def shipped():
    if not (RUN / "config.json").is_file() or not any(FOLDER.glob("*.json")):
        pytest.skip("the full-batch run or its landscapes are not in this copy (make assets)")
    surfaces, lines = load_landscapes(FOLDER)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as `make assets` computed them; small batches gain nothing from a busy second core
    yield {s.network: s for s in surfaces}, {line.network: line for line in lines}
    torch.set_num_threads(threads)


@pytest.mark.parametrize("network", NETWORKS)
def test_surface_points_match_a_fresh_computation(shipped, network):
    surface = shipped[0][network]
    assert len(surface.x) == len(surface.y) == 31 and surface.complete
    assert surface.images == load_run(RUN).train.train_size  # every training image of the run
    k = 25  # a 2x2 grid over [-x[k], x[k]] lands on four of the shipped grid's points (5 and 25 each way)
    fresh = run_landscape(RUN, network, grid=2, span=surface.x[k], images=surface.images, precision=surface.precision)
    assert fresh.center_loss == pytest.approx(surface.center_loss, rel=1e-4)
    for j, row in zip((len(surface.y) - 1 - k, k), fresh.loss, strict=True):
        for i, value in zip((len(surface.x) - 1 - k, k), row, strict=True):
            assert value == pytest.approx(surface.loss[j][i], rel=1e-4), (network, i, j)


@pytest.mark.parametrize("network", NETWORKS)
def test_init_line_midpoint_matches_and_ends_at_the_training_loss(shipped, network):
    line = shipped[1][network]
    fresh = run_landscape(RUN, network, grid=3, images=line.images, line="init", precision=line.precision)
    assert fresh.alpha[1] == line.alpha[15] == 0.5
    assert fresh.loss[1] == pytest.approx(line.loss[15], rel=1e-4)
    final = load_run(RUN).history.final_losses()[network]  # the trained end is the run's final training loss
    assert line.loss[-1] == pytest.approx(final, rel=0.05, abs=1e-3)


def test_every_network_sits_in_a_basin(shipped):
    """Unlike the short run's Plain-56 (a plateau at chance), every full-batch network learned."""
    for network in NETWORKS:
        d = describe(shipped[0][network])
        assert d["center_loss"] < 0.5 and d["below_level"] > 0, network
    meta = json.loads((FOLDER / "Plain-56.json").read_text())
    assert meta["precision"] == "float32" and meta["seed"] == 0
