"""The saliency benchmark: each metric on tiny crafted maps with hand-computed values, the batched maps equal to
Explain's METHODS, the CLI's JSON contract, determinism, Stop, and the plain error for runs without outlines.

Quantus (Hedström et al. 2023) would pull opencv, scikit-image, scikit-learn and scipy into the test
environment, so the reference here is each paper's own definition, computed by hand on maps small enough to
check on paper: Quantus' PointingGame (argmax on the mask) and RelevanceMassAccuracy (sum inside / sum),
RISE's CausalMetric (``step`` pixels a step, ``n = ceil(HW / step)``, ``auc`` by the trapezoidal rule).
"""

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.experiments.saliency import METRICS, run_saliency
from explorer.experiments.saliency_maps import METHOD_KEYS, center_map, method_maps
from explorer.experiments.saliency_metrics import (
    auc,
    causal_curves,
    curve_steps,
    hit_area,
    mass_in_mask,
    pixel_ranks,
    pointing_game,
)
from explorer.experiments.saliency_road import impute
from explorer.interpret.methods import METHODS
from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet
from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]


def test_pointing_game_hits_when_the_peak_is_on_the_mask():
    maps = np.zeros((3, 4, 4))
    maps[0, 1, 2] = 1.0  # on the mask
    maps[1, 3, 0] = 1.0  # 2 pixels left of the mask's nearest pixel (3, 2)
    maps[2] = 0.0  # no positive evidence: points nowhere
    masks = np.zeros((3, 4, 4), dtype=bool)
    masks[:, 1:4, 2:4] = True
    assert pointing_game(maps, masks, tolerance=0).tolist() == [True, False, False]
    assert pointing_game(maps, masks, tolerance=1).tolist() == [True, False, False]
    assert pointing_game(maps, masks, tolerance=2).tolist() == [True, True, False]


def test_mass_in_mask_is_the_positive_share_inside():
    maps = np.array([[[1.0, 2.0], [3.0, 4.0]], [[-1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]])
    masks = np.array([[[1, 0], [0, 1]], [[1, 1], [0, 0]], [[1, 1], [1, 1]]], dtype=bool)
    np.testing.assert_allclose(mass_in_mask(maps, masks), [5 / 10, 2 / 9, 0.0])


def test_ranks_follow_the_map_and_break_ties_by_the_seed():
    maps = np.array([[[0.9, 0.1], [0.5, 0.5]]])
    seen = {tuple(pixel_ranks(maps, np.random.default_rng(s))[0]) for s in range(20)}
    assert seen == {(0, 3, 1, 2), (0, 3, 2, 1)}  # the two tied pixels come 2nd and 3rd, in either order
    a = pixel_ranks(maps, np.random.default_rng(7))
    assert (a == pixel_ranks(maps, np.random.default_rng(7))).all()


def test_auc_is_rises_trapezoid():
    np.testing.assert_allclose(auc(np.array([1.0, 0.5, 0.0])), 0.5)
    np.testing.assert_allclose(auc(np.array([1.0, 0.0, 0.0, 0.0])), 0.5 / 3)
    np.testing.assert_allclose(auc(np.array([[1.0, 1.0, 1.0], [0.0, 1.0, 0.0]])), [1.0, 0.5])


def test_curve_steps_match_rise():
    assert curve_steps(576, 12) == (48, 12)
    assert curve_steps(4, 3) == (2, 2)
    assert curve_steps(10, 4) == (3, 4)  # 3, 6, 9, then the last pixel


def _mean_of_channel0(inputs: torch.Tensor, rows: np.ndarray) -> np.ndarray:
    """A 'probability' that is the mean of channel 0: every curve can be worked out by hand."""
    return inputs[:, 0].flatten(1).mean(1).numpy()


def test_deletion_and_insertion_curves_by_hand():
    x = torch.tensor([[[[4.0, 3.0], [2.0, 1.0]]]])  # (1, 1, 2, 2): mean 2.5
    best = np.array([[[0, 1, 2, 3]]])  # the map's order is the pixels' own order: biggest first
    worst = np.array([[[3, 2, 1, 0]]])
    deletion, insertion = causal_curves(_mean_of_channel0, x, 0.0, np.concatenate([best, worst]), step=1)
    np.testing.assert_allclose(deletion[0, 0], [2.5, 1.5, 0.75, 0.25, 0.0])  # 10/4, 6/4, 3/4, 1/4, 0
    np.testing.assert_allclose(insertion[0, 0], [0.0, 1.0, 1.75, 2.25, 2.5])
    np.testing.assert_allclose(deletion[1, 0], [2.5, 2.25, 1.75, 1.0, 0.0])
    assert auc(deletion[0, 0]) < auc(deletion[1, 0])  # the faithful order deletes the score faster
    d2, i2 = causal_curves(_mean_of_channel0, x, 1.0, best, step=3)  # 2 steps: 3 pixels, then all 4
    np.testing.assert_allclose(d2[0, 0], [2.5, 1.0 / 4 + 3 / 4, 1.0])
    np.testing.assert_allclose(i2[0, 0], [1.0, 9 / 4 + 1 / 4, 2.5])


def test_curves_take_a_fill_as_the_removal():
    """A fill gets the images and what is removed; the curves are the probabilities of what it returns."""
    x = torch.tensor([[[[4.0, 3.0], [2.0, 1.0]]]])
    best = np.array([[[0, 1, 2, 3]]])

    def fill(images, removed):  # removed pixels become the mean of the kept ones (0 when none is kept)
        kept = (~removed).float()
        mean = (images * kept).flatten(1).sum(1) / kept.flatten(1).sum(1).clamp_min(1)
        return torch.where(removed, mean.view(-1, 1, 1, 1), images)

    deletion, insertion = causal_curves(_mean_of_channel0, x, fill, best, step=1)
    np.testing.assert_allclose(deletion[0, 0], [2.5, 2.0, 1.5, 1.0, 0.0])  # kept 3,2,1 -> mean 2, 1.5, 1
    np.testing.assert_allclose(insertion[0, 0], [0.0, 4.0, 3.5, 3.0, 2.5])


def _road_by_hand(image: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """ROAD's system written out pixel by pixel: d_i u_i - sum w u_removed = sum w x_kept, solved densely."""
    h, w = image.shape
    index = {p: k for k, p in enumerate(zip(*np.nonzero(removed), strict=True))}
    a, b = np.zeros((len(index), len(index))), np.zeros(len(index))
    for (i, j), k in index.items():
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                ii, jj = i + di, j + dj
                if (di or dj) and 0 <= ii < h and 0 <= jj < w:
                    weight = 1 / 6 if di == 0 or dj == 0 else 1 / 12
                    a[k, k] += weight
                    if removed[ii, jj]:
                        a[k, index[(ii, jj)]] -= weight
                    else:
                        b[k] += weight * image[ii, jj]
    out = image.copy()
    for (i, j), v in zip(index, np.linalg.solve(a, b), strict=True):
        out[i, j] = v
    return out


def test_road_imputation_solves_the_papers_system():
    g = np.random.default_rng(0)
    x = torch.randn(3, 2, 9, 11, generator=torch.Generator().manual_seed(0))
    removed = torch.zeros(3, 1, 9, 11, dtype=torch.bool)
    removed[0, 0, 2:7, 3:9] = True  # a block: its middle is far from every kept pixel
    removed[1, 0] = torch.from_numpy(g.random((9, 11)) < 0.8)
    removed[2, 0] = torch.from_numpy(g.random((9, 11)) < 0.2)
    got = impute(x, removed, tol=1e-7, max_iter=2000)
    for i in range(3):
        for c in range(2):
            want = _road_by_hand(x[i, c].double().numpy(), removed[i, 0].numpy())
            np.testing.assert_allclose(got[i, c].numpy(), want, atol=1e-4)
    assert (got[~removed.expand_as(x)] == x[~removed.expand_as(x)]).all()  # kept pixels are the image's own


def test_road_noise_only_where_removed_and_nothing_to_average_gives_the_mean_colour():
    x = torch.full((2, 3, 8, 8), 2.0)
    removed = torch.zeros(2, 1, 8, 8, dtype=torch.bool)
    removed[0, 0, :4] = True
    removed[1] = True  # every pixel removed: no neighbour to average
    noise = torch.tensor([0.1, 0.2, 0.3])
    got = impute(x, removed, noise, torch.Generator().manual_seed(0))
    again = impute(x, removed, noise, torch.Generator().manual_seed(0))
    assert torch.equal(got, again)
    assert (got[0, :, 4:] == 2.0).all()  # kept
    filled = got[0, :, :4] - 2.0  # a flat image fills with its own value, plus the noise
    assert 0.05 < float(filled[0].std()) < 0.15 and 0.2 < float(filled[2].std()) < 0.4
    assert abs(float(got[1].mean())) < 0.1  # nothing kept: the mean colour (0), plus noise


def test_random_maps_point_as_often_as_the_hit_area():
    """A random map's peak falls anywhere: its pointing game comes to the share of pixels within the tolerance
    of the outline (hit_area), on 256 held-out shapes (standard error about 0.03)."""
    from explorer.data.datasets import load_dataset
    from explorer.interpret.trust import default_tolerance

    ds = load_dataset("shapes", "test", n=256, size=24, seed=0)
    masks = ds.masks.numpy()
    tol = default_tolerance(24)
    maps = method_maps("random", None, torch.zeros(256, 3, 24, 24), None, np.random.default_rng(0))
    area = hit_area(masks, tol)
    assert tol == 1 and 0.3 < area < 0.5
    assert abs(float(pointing_game(maps, masks, tol).mean()) - area) < 0.06
    assert hit_area(masks, 0) == pytest.approx(masks.mean())


def test_center_map_peaks_in_the_middle():
    c = center_map((24, 24))
    assert c.shape == (24, 24) and np.isclose(c.max(), np.exp(-0.5 * 2 * (0.5 / 6) ** 2))
    assert tuple(np.unravel_index(c.argmax(), c.shape)) == (11, 11) and c[0, 0] < 0.03


@pytest.mark.parametrize("name", [k for k, v in METHOD_KEYS.items() if v is not None])
def test_batched_maps_equal_explains_methods(name):
    model = build_resnet(ResNetConfig(depth=8, width=4), seed=0).eval()
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    targets = torch.tensor([2, 5, 2])
    batched = method_maps(name, model, x, targets, np.random.default_rng(0))
    for i in range(3):
        single = METHODS[METHOD_KEYS[name]](model, x[i : i + 1], None, int(targets[i]))
        np.testing.assert_allclose(batched[i], single, atol=2e-4)


def test_cli_json_contract_and_same_numbers_as_the_function(tiny_run, tmp_path):
    out = tmp_path / "s.json"
    r = run_cli(
        "saliency", "--run", str(tiny_run), "--network", "ResNet-8", "--images", "12", "--seed", "4",
        "--threads", "1", "--out", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    got = json.loads(out.read_text())
    assert {"network", "images", "seed", "mask_area", "methods", "tolerance_px", "hit_area"} <= set(got)
    assert (got["network"], got["images"], got["seed"]) == ("ResNet-8", 12, 4)
    assert 0 < got["mask_area"] < got["hit_area"] < 1 and got["tolerance_px"] == 1
    assert list(got["methods"]) == list(METHOD_KEYS)
    for scores in got["methods"].values():
        assert set(scores) == set(METRICS) and all(0 <= v <= 1 for v in scores.values())
    torch.set_num_threads(1)  # the CLI's threads: the same sums in the same order
    same = run_saliency(tiny_run, "ResNet-8", images=12, seed=4)
    for name, scores in got["methods"].items():
        for metric, v in scores.items():
            assert same["methods"][name][metric] == pytest.approx(v, abs=2e-3), (name, metric)


def test_the_cam_family_is_scored_with_randomised_weights(tiny_run):
    """The trained network's scores of every method are checked by the CLI's JSON contract test."""
    got = run_saliency(tiny_run, "Plain-8", images=6, seed=5, weights="randomised")
    assert got["weights"] == "randomised"
    for name in ("grad-cam++", "score-cam", "layercam"):
        scores = got["methods"][name]
        assert set(scores) == set(METRICS) and all(0 <= v <= 1 for v in scores.values()), name


def test_same_seed_same_numbers_other_seed_other_images(tiny_run):
    a = run_saliency(tiny_run, "Plain-8", images=8, seed=1, weights="randomised")
    b = run_saliency(tiny_run, "Plain-8", images=8, seed=1, weights="randomised")
    c = run_saliency(tiny_run, "Plain-8", images=8, seed=2, weights="randomised")
    assert a["methods"] == b["methods"] and a["examples"] == b["examples"]
    assert a["methods"] != c["methods"] and a["weights"] == "randomised"


def test_stop_before_the_first_chunk_returns_nothing(tiny_run):
    stop = threading.Event()
    stop.set()
    assert run_saliency(tiny_run, "ResNet-8", images=4, stop=stop) is None


def test_a_stop_after_the_first_chunk_keeps_its_scores(tiny_run):
    from explorer.experiments.saliency import CHUNK

    stop = threading.Event()
    seen = []

    def progress(done, total):
        seen.append((done, total))
        stop.set()  # pressed while the first chunk was scored: the second is never started

    part = run_saliency(tiny_run, "ResNet-8", images=CHUNK + 2, progress=progress, stop=stop)
    assert seen == [(CHUNK, CHUNK + 2)]
    assert part["images"] == CHUNK and not part["complete"] and list(part["methods"]) == list(METHOD_KEYS)
    assert len(part["examples"]) <= 4 and all(set(e["maps"]) <= set(METHOD_KEYS) for e in part["examples"])


def test_a_run_without_outlines_gets_one_plain_line(tiny_run, tmp_path):
    other = tmp_path / "cifar-run"
    shutil.copytree(tiny_run, other)
    config = json.loads((other / "config.json").read_text())
    config["train"]["dataset"] = "cifar10"
    (other / "config.json").write_text(json.dumps(config))
    r = run_cli("saliency", "--run", str(other), "--network", "ResNet-8", "--out", str(tmp_path / "x.json"))
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "needs the built-in shapes" in r.stderr
    assert not (tmp_path / "x.json").exists()


def test_shipped_shapes_pair_is_well_trained_and_benchmarked():
    """Explain's default networks (assets/runs/shapes): residual >= 95% held-out, as issue 18 asks."""
    from explorer.experiments.saliency import load_saliency
    from explorer.training.runs import load_run

    path = ROOT / "assets" / "runs" / "shapes"
    if not (path / "config.json").is_file():
        pytest.skip("assets/runs/shapes is not there (make assets)")
    held = {n: h.eval_accuracy[-1] for n, h in load_run(path).history.models.items()}
    assert held["ResNet-20"] >= 0.95 and held["ResNet-56"] >= 0.95, held
    results = load_saliency(ROOT / "assets" / "experiments" / "saliency")
    assert {(r["network"], r["weights"]) for r in results} == {(n, w) for n in held for w in ("trained", "randomised")}
    for r in results:
        assert r["run"] == "shapes" and r["complete"] and list(r["methods"]) == list(METHOD_KEYS)
        assert set(r["methods"]["grad-cam"]) == set(METRICS) and r["tolerance_px"] == 1
        # the random map's pointing game is what the hit area says it should be
        assert abs(r["methods"]["random"]["pointing_game"] - r["hit_area"]) < 0.06, r["network"]


def _result(weights: str, pg: dict[str, float]) -> dict:
    return {
        "network": "ResNet-8",
        "weights": weights,
        "accuracy": 0.9 if weights == "trained" else 0.1,
        "images": 128,
        "correct": 115 if weights == "trained" else 13,
        "methods": {m: {k: (pg.get(m, 0.5) if k == "pointing_game" else 0.5) for k in METRICS} for m in METHOD_KEYS},
    }


def test_baseline_values_sit_above_the_panels_and_their_styles_in_the_legend():
    """The random and centre maps' scores are written under each panel's title, outside the plot area, never on the
    bars (a label at the line's height sat on them), and each line's style appears once in the legend."""
    from explorer.charts.saliency import metric_figure

    results = [
        _result("trained", {"grad-cam": 0.9, "random": 0.49, "center": 0.85}),
        _result("randomised", {"grad-cam": 0.4, "random": 0.51, "center": 0.8}),
    ]
    fig = metric_figure(results, "pointing_game")
    texts = [a.text for a in fig.layout.annotations]
    assert any("random map 0.49" in t and "centre map 0.85" in t for t in texts)
    assert any("random map 0.51" in t and "centre map 0.80" in t for t in texts)
    for a in fig.layout.annotations:  # all in paper coordinates, above the plot area
        assert a.yref == "paper" and a.y >= 1 and a.yanchor == "bottom"
    lines = [t.name for t in fig.data if t.type == "scatter"]
    assert lines == ["random map", "centre map"]
    assert all(s.type == "line" and s.y0 in (0.49, 0.51, 0.85, 0.8) for s in fig.layout.shapes)


def test_random_line_of_the_pointing_game_is_the_hit_area_and_weak_networks_are_named():
    """The random map's pointing-game line is what it should come to (the hit area), labelled as expected; a
    trained network near chance is named so in the legend."""
    from explorer.charts.saliency import metric_figure

    trained = {**_result("trained", {"random": 0.45}), "hit_area": 0.4}
    weak = {**_result("trained", {"random": 0.45}), "hit_area": 0.42, "network": "Plain-8", "accuracy": 0.13}
    weak["methods"]["random"]["mass_in_mask"] = 0.1  # a network near chance stays out of the lines
    fig = metric_figure([trained, weak], "pointing_game")
    assert "random map, expected 0.40" in fig.layout.annotations[0].text
    assert any(s.y0 == pytest.approx(0.40) for s in fig.layout.shapes)
    assert [t.name for t in fig.data if t.type == "bar"] == ["ResNet-8", "Plain-8 (near chance)"]
    other = metric_figure([trained, weak], "mass_in_mask")  # other metrics: the random map's own score
    assert "random map 0.50" in other.layout.annotations[0].text
