"""Loss landscapes (Li et al. 2018) and the init-to-trained line (Goodfellow et al. 2015) on tiny networks."""

import copy
import json
import math
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explorer.experiments.landscape import (
    direction_line,
    init_line,
    landscape_job,
    loss_surface,
    random_directions,
    rebuild_initial_weights,
    run_landscape,
)
from explorer.experiments.landscape_records import Landscape
from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet
from explorer.training.runs import load_run
from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def subset():
    g = torch.Generator().manual_seed(3)
    return torch.randn(24, 3, 16, 16, generator=g), torch.randint(0, 10, (24,), generator=g)


@pytest.fixture
def trained(tiny_config, subset):
    """A tiny network trained a few SGD steps on the subset (non-trivial weights and batch-norm statistics)."""
    model = build_resnet(tiny_config, seed=0)
    x, y = subset
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(5):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()


def own_loss(model: nn.Module, x, y, train_mode: bool = False) -> float:
    m = copy.deepcopy(model).train(train_mode)
    with torch.no_grad():
        return F.cross_entropy(m(x), y).item()


def test_centre_is_the_models_own_loss(trained, subset):
    x, y = subset
    s = loss_surface(trained, x, y, grid=3, span=0.5)
    assert s.loss.shape == (3, 3) and s.complete
    assert s.center_loss == pytest.approx(own_loss(trained, x, y), rel=1e-5)
    assert s.loss[1, 1] == pytest.approx(s.center_loss, rel=1e-6)
    assert s.x == s.y == [-0.5, 0.0, 0.5]
    assert (s.loss > 0).all() and s.loss.max() > s.center_loss  # moving away from trained weights costs


@pytest.mark.parametrize("residual", [True, False])
def test_directions_are_filter_normalised_and_skip_bias_and_bn(tiny_config, residual):
    model = build_resnet(ResNetConfig(depth=8, width=8, residual=residual), seed=0)
    d1, d2 = random_directions(model, seed=5)
    assert not torch.equal(d1["conv1.weight"], d2["conv1.weight"])
    for name, p in model.named_parameters():
        for d in (d1, d2):
            assert d[name].shape == p.shape
            if p.dim() <= 1:  # biases, batch-norm scale and shift
                assert torch.count_nonzero(d[name]) == 0, name
            else:  # every filter (output channel / row of fc) has its weight filter's norm
                want = p.detach().reshape(len(p), -1).norm(dim=1)
                got = d[name].reshape(len(p), -1).norm(dim=1)
                torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    assert any(n.startswith("fc.weight") for n in d1) and torch.count_nonzero(d1["fc.bias"]) == 0
    assert torch.count_nonzero(d1["bn1.weight"]) == 0


def test_model_untouched_after_an_error_and_a_stop(trained, subset):
    x, y = subset
    before = {k: v.clone() for k, v in trained.state_dict().items()}
    trained.train()

    def fail(p):
        if p.done == 3:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        loss_surface(trained, x, y, grid=3, progress=fail)
    after = trained.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert trained.training and all(p.requires_grad for p in trained.parameters())

    stop = threading.Event()
    s = loss_surface(trained, x, y, grid=3, progress=lambda p: p.done == 2 and stop.set(), stop=stop)
    assert not s.complete and sum(math.isfinite(v) for v in s.loss.ravel()) == 2
    assert all(torch.equal(before[k], v) for k, v in trained.state_dict().items())


def test_same_seed_same_surface(trained, subset):
    x, y = subset
    a = loss_surface(trained, x, y, grid=3, seed=7)
    b = loss_surface(trained, x, y, grid=3, seed=7)
    c = loss_surface(trained, x, y, grid=3, seed=8)
    assert (a.loss == b.loss).all()
    assert not (a.loss == c.loss).all()
    back = Landscape.from_dict(json.loads(json.dumps(a.to_dict())))
    assert (back.loss == a.loss).all() and back.center_loss == a.center_loss


def test_direction_line_is_the_surfaces_centre_row(trained, subset):
    x, y = subset
    surface = loss_surface(trained, x, y, grid=3, seed=4)
    line = direction_line(trained, x, y, points=3, seed=4)
    assert line.kind == "direction" and line.alpha == surface.x
    assert line.loss == surface.loss[1].tolist()


def test_init_line_runs_from_initial_to_trained_loss(tiny_config, trained, subset):
    x, y = subset
    initial = build_resnet(tiny_config, seed=0)
    line = init_line(initial, trained, x, y, points=5)
    assert line.alpha == [0.0, 0.25, 0.5, 0.75, 1.0]
    # batch norm uses the subset's statistics (training mode) at every alpha
    assert line.loss[0] == pytest.approx(own_loss(initial, x, y, train_mode=True), rel=1e-5)
    assert line.loss[-1] == pytest.approx(own_loss(trained, x, y, train_mode=True), rel=1e-5)
    assert line.loss[-1] < line.loss[0]


def test_runs_save_the_trainers_step0_weights(tiny_run):
    run = load_run(tiny_run)
    for name, config in run.model_configs.items():
        initial = run.load_initial(name)
        assert initial is not None
        rebuilt = build_resnet(config, seed=3)  # how the trainer initialises (explorer.training.lockstep.build_models)
        assert all(torch.equal(v, rebuilt.state_dict()[k]) for k, v in initial.state_dict().items())
        trained = run.load_models()[name]
        assert not torch.equal(trained.conv1.weight, initial.conv1.weight)


def test_extending_a_run_keeps_its_step0_weights(tiny_run, tmp_path):
    copy_dir = tmp_path / "extended"
    shutil.copytree(tiny_run, copy_dir)
    r = run_cli("train", "--extend", str(copy_dir), "--steps", "1", "--threads", "1")
    assert r.returncode == 0, r.stderr
    run = load_run(copy_dir)
    assert run.history.step == 5
    before = load_run(tiny_run).load_initial("ResNet-8").state_dict()
    after = run.load_initial("ResNet-8").state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_job_body_for_the_engine_reports_progress_and_stops(tiny_run):
    seen, stop = [], threading.Event()

    def progress(p):
        seen.append((p.done, p.total))
        if p.done == 4:
            stop.set()

    result = landscape_job(tiny_run, "ResNet-8", grid=3, images=8)(progress, stop)
    assert seen == [(1, 9), (2, 9), (3, 9), (4, 9)]
    assert not result.complete and np.isfinite(result.loss).sum() == 4


def test_rebuilt_initial_weights_match_the_trainers(tiny_run, tmp_path):
    copy_dir = tmp_path / "old-run"
    shutil.copytree(tiny_run, copy_dir)
    meta = json.loads((copy_dir / "config.json").read_text())
    for entry in meta["models"].values():  # a run saved before runs kept step-0 weights
        (copy_dir / entry.pop("initial")).unlink()
    (copy_dir / "config.json").write_text(json.dumps(meta))
    assert load_run(copy_dir).load_initial("ResNet-8") is None
    assert len(rebuild_initial_weights(copy_dir)) == 2
    for name in ("Plain-8", "ResNet-8"):
        saved = load_run(tiny_run).load_initial(name).state_dict()
        rebuilt = load_run(copy_dir).load_initial(name).state_dict()
        assert all(torch.equal(saved[k], rebuilt[k]) for k in saved)


def test_cli_writes_the_surface_and_the_init_line(tiny_run, tmp_path):
    out = tmp_path / "s.json"
    r = run_cli(
        "landscape", "--run", str(tiny_run), "--network", "ResNet-8", "--grid", "3", "--images", "16",
        "--threads", "1", "--out", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    assert {"network", "x", "y", "loss", "center_loss", "images", "seed", "span"} <= set(d)
    assert d["network"] == "ResNet-8" and d["images"] == 16 and d["seed"] == 0 and d["span"] == 1.0
    assert len(d["loss"]) == len(d["y"]) == 3 and all(len(row) == len(d["x"]) for row in d["loss"])
    assert d["loss"][1][1] == pytest.approx(d["center_loss"], rel=1e-6)
    same = run_landscape(tiny_run, "ResNet-8", grid=3, images=16)  # the page's function, the same numbers
    assert same.loss.tolist() == d["loss"]

    out = tmp_path / "line.json"
    r = run_cli(
        "landscape", "--run", str(tiny_run), "--network", "Plain-8", "--line", "init", "--grid", "3",
        "--images", "16", "--threads", "1", "--out", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    assert d["line"] == "init" and d["alpha"] == [0.0, 0.5, 1.0] and len(d["loss"]) == 3

    r = run_cli("landscape", "--run", str(tiny_run), "--network", "ResNet-9", "--out", str(out))
    assert r.returncode == 2 and "ResNet-8" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("name", ["degradation", "degradation-full-batch"])
def test_degradation_asset_has_the_trainers_initial_weights(name):
    path = ROOT / "assets" / "runs" / name
    if not (path / "config.json").is_file():
        pytest.skip("no precomputed run in this copy (make assets)")
    run = load_run(path)
    for name, config in run.model_configs.items():
        initial = run.load_initial(name)
        assert initial is not None, name
        rebuilt = build_resnet(config, seed=run.train.seed)
        assert all(torch.equal(v, rebuilt.state_dict()[k]) for k, v in initial.state_dict().items()), name
        # and training started there: the trained weights are nearer these than another seed's
        trained, other = run.load_models()[name], build_resnet(config, seed=run.train.seed + 1)
        w = trained.conv1.weight
        assert (w - initial.conv1.weight).norm() < (w - other.conv1.weight).norm(), name


def test_charts_share_one_colour_scale_and_show_the_centre_row():
    from explorer.charts.landscape import cross_section_figure, landscape_figure, landscape_range, line_figure
    from explorer.experiments.landscape_records import LossLine

    xs = [-1.0, 0.0, 1.0]
    bowl = np.array([[3.0, 2.0, 3.0], [2.0, 0.1, 2.0], [3.0, 2.0, 3.0]])
    plain = Landscape("Plain-20", xs, xs, bowl * 100, 0.1 * 100, 64, 0, 1.0)
    residual = Landscape("ResNet-20", xs, xs, bowl, 0.1, 64, 0, 1.0)
    fig = landscape_figure([plain, residual], "contour", log=True)
    contours = [t for t in fig.data if t.type == "contour"]
    assert len(contours) == 2 and {t.coloraxis for t in contours} == {"coloraxis"}
    low, high = fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax
    assert (low, high) == pytest.approx((-1.0, math.log10(300.0)))
    huge = Landscape("Plain-56", xs, xs, bowl * 1e9, 2.3, 64, 0, 1.0)  # log plots clip at LOG_CAP
    assert landscape_range([huge, residual], log=True) == pytest.approx((-1.0, 3.0))
    assert (low, high) == landscape_range([plain, residual], log=True)
    surf = landscape_figure([plain, residual], "surface", log=False)
    assert [t.type for t in surf.data] == ["surface", "surface"] and surf.layout.coloraxis.cmax == 10.0
    assert surf.data[0].z.max() == 10.0  # linear plots clip at Li et al.'s 10
    cross = cross_section_figure([plain, residual])
    assert list(cross.data[1].y) == [2.0, 0.1, 2.0] and cross.layout.yaxis.type == "log"
    line = line_figure([LossLine("ResNet-20", "init", [0.0, 1.0], [2.3, 0.1], 64, 0)], log=False)
    assert list(line.data[0].y) == [2.3, 0.1] and "initial" in line.layout.xaxis.title.text
    with pytest.raises(ValueError):
        landscape_figure([plain], "heatmap")


def test_describe_counts_minima_and_the_basin():
    from explorer.experiments.landscape_records import describe

    xs = np.linspace(-1, 1, 9).tolist()
    a, b = np.meshgrid(xs, xs)
    bowl = Landscape("ResNet-20", xs, xs, 0.1 + 4 * (a**2 + b**2), 0.1, 64, 0, 1.0)
    d = describe(bowl)
    assert d["local_minima"] == 1 and d["center_loss"] == 0.1 and d["highest"] == pytest.approx(8.1)
    assert d["below_10"] == 1.0
    assert d["below_level"] == pytest.approx(((0.1 + 4 * (a**2 + b**2)) < math.log(10)).mean())
    egg = Landscape("Plain-20", xs, xs, 3 + np.cos(6 * a) * np.cos(6 * b), 2.0, 64, 0, 1.0)
    assert describe(egg)["local_minima"] > 1
