"""Precomputed sweeps survive the trip through JSON: arrays come back as arrays, flags as flags."""

import json
import math
from pathlib import Path

import numpy as np

from explorer.charts.gradients import shattered_figure
from explorer.charts.style import PLAIN, RESIDUAL
from explorer.experiments.precompute import load_shattered, load_sweep, write_sweeps
from explorer.interpret.gradient_results import ShatteredResult, SweepResult
from explorer.training.jsonable import nan_for_none, to_json


def _shattered(name: str, residual: bool | None) -> ShatteredResult:
    t = np.linspace(-1, 1, 5)
    acf = np.array([1.0, 0.5, math.nan, 0.1])  # a nan where a lag had no variance
    return ShatteredResult(name, t, np.sin(t), acf, np.ones(4), residual)


def test_shattered_round_trip_keeps_flags_and_arrays(tmp_path):
    results = [_shattered("Plain-20", False), _shattered("ResNet-20", True), _shattered("torchvision", None)]
    sweep = [SweepResult("ResNet-20", 20, True, ["conv1", "fc"], [0.5, float("inf")])]
    paths = write_sweeps(tmp_path, sweep, results, seed=3)
    for p in paths:  # standard JSON: no NaN or Infinity tokens
        json.loads(p.read_text(), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    back = load_shattered(tmp_path)
    assert [r.residual for r in back] == [False, True, None]  # not numpy arrays, None not turned into nan
    assert back[2].residual is None and isinstance(back[0].residual, bool)
    np.testing.assert_array_equal(back[0].acf, results[0].acf)  # nan survives as nan
    assert isinstance(back[0].t, np.ndarray) and back[0].lag1 == 0.5
    assert load_sweep(tmp_path)[0].values[0] == 0.5


def test_shattered_chart_colours_follow_the_flag_after_loading(tmp_path):
    """A result without a flag (None) is coloured by its name; a nan array in its place made it 'residual'."""
    write_sweeps(
        tmp_path, [], [_shattered("Plain-20", False), _shattered("ResNet-20", True), _shattered("Plain-56", None)]
    )
    fig = shattered_figure(load_shattered(tmp_path))
    acf_lines = {t.name.split(" ")[0]: t.line.color for t in fig.data if t.name}
    assert acf_lines == {"Plain-20": PLAIN, "ResNet-20": RESIDUAL, "Plain-56": PLAIN}


def test_to_json_and_back():
    obj = {"a": np.array([1.0, np.nan]), "b": (np.float32(2.5), None, True), "c": float("-inf")}
    assert to_json(obj) == {"a": [1.0, None], "b": [2.5, None, True], "c": None}
    assert math.isnan(nan_for_none(to_json(obj))["a"][1])


def test_zero_gamma_asset_is_what_the_function_measures(tmp_path):
    """The Learn page's zero-gamma figure reads the asset; it must equal a fresh measurement."""
    from explorer.experiments.precompute import load_zero_gamma, save_zero_gamma, zero_gamma_ratios

    shipped = load_zero_gamma(Path(__file__).resolve().parents[2] / "assets" / "experiments")
    fresh = zero_gamma_ratios()
    assert shipped is not None and set(shipped) == {"standard", "zero_gamma"}
    for key in shipped:
        assert [n for n, _ in shipped[key]] == [n for n, _ in fresh[key]]
        np.testing.assert_allclose([r for _, r in shipped[key]], [r for _, r in fresh[key]], rtol=1e-4)
    assert all(r == 0.0 for _, r in shipped["zero_gamma"])  # gamma = 0 makes every branch output zero
    assert all(r > 0.1 for _, r in shipped["standard"])
    assert load_zero_gamma(save_zero_gamma(tmp_path, depth=8).parent, depth=20) is None  # another depth: not used


def test_network_costs_asset_is_what_the_summaries_count(tmp_path):
    """The Learn page's parameter and multiply-accumulate counts come from assets/experiments: they must be
    what ``summarize_config`` counts now (re-run `python -m explorer precompute` when the models change)."""
    from explorer.experiments.precompute import (
        learn_networks,
        load_network_costs,
        network_costs,
        save_network_costs,
    )
    from explorer.models.config import ResNetConfig

    shipped = load_network_costs(Path(__file__).resolve().parents[2] / "assets" / "experiments")
    assert shipped == network_costs(learn_networks())
    assert len(shipped) == 11 and all(p > 0 and m > 0 for p, m in shipped.values())  # ResNet-20 A is the preset
    assert load_network_costs(save_network_costs(tmp_path).parent) == shipped
    assert load_network_costs(tmp_path / "missing") == {}
    a, b = (shipped[k] for k in list(shipped)[:2])  # ResNet-20 shortcut A, then B: B adds projections
    assert b[0] > a[0] and learn_networks()[0] == ResNetConfig("cifar", 20, shortcut="A")


def test_block_costs_asset_is_what_the_blocks_count(tmp_path):
    """The Chinese Learn page's third myth quotes block parameters from assets/experiments (no torch on the first
    page): they must be what ``block_costs`` counts on the app's blocks now."""
    from explorer.experiments.misconceptions import block_costs
    from explorer.experiments.precompute import load_block_costs, save_block_costs

    shipped = load_block_costs(Path(__file__).resolve().parents[2] / "assets" / "experiments")
    assert shipped == block_costs()
    assert load_block_costs(save_block_costs(tmp_path).parent) == shipped
    assert load_block_costs(tmp_path / "missing") is None


def test_layer_responses_asset_is_what_the_shipped_runs_measure(tmp_path):
    """Inside's Fig. 7 comes from assets/experiments (its first visitor waited about 7 s for it): it must be what
    ``layer_responses_of`` measures on the shipped runs now, for every run the page shows, and round-trip."""
    from explorer.experiments.precompute import layer_responses_of, load_layer_responses, save_layer_responses
    from explorer.ui.lesson_sections import RUNS

    root = Path(__file__).resolve().parents[2] / "assets"
    shipped = load_layer_responses(root / "experiments")
    assert set(shipped) == set(RUNS)
    for name in RUNS:
        fresh = layer_responses_of(root / "runs" / name)
        assert [r[:3] for r in shipped[name]] == [r[:3] for r in fresh]  # the same networks, in the same order
        for saved, now in zip(shipped[name], fresh, strict=True):
            assert len(saved[3]) == now[2] - 1  # every 3x3 layer of a 6n+2 network: the stem's and two per block
            np.testing.assert_allclose(saved[3], now[3], rtol=1e-4)
    run = root / "runs" / "degradation"
    assert load_layer_responses(save_layer_responses([run], tmp_path).parent) == {
        "degradation": layer_responses_of(run)
    }
    assert load_layer_responses(tmp_path / "nothing") == {}
