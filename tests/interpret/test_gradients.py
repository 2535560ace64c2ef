"""Gradient flow and shattered gradients against direct autograd and finite differences."""

import copy
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explorer.interpret.gradient_results import autocorrelation
from explorer.interpret.gradients import calibrate_bn, depth_sweep, gradient_norms, shapes_batch, shattered_gradients
from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet
from explorer.ui.lesson_sections import NO_VANISHING_NOTE  # the page's words


def test_gradient_norms_match_backward(tiny_model, cifar_batch):
    y = torch.tensor([1, 7])
    model = tiny_model.eval()
    before = copy.deepcopy(model.state_dict())
    norms = gradient_norms(model, cifar_batch, y)
    ref = copy.deepcopy(model).train()
    F.cross_entropy(ref(cifar_batch), y).backward()
    expected = {n: float(m.weight.grad.norm()) for n, m in ref.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    assert [n for n, _ in norms][0] == "conv1" and norms[-1][0] == "fc"
    assert len(norms) == len(expected) == 8  # depth 8: seven convs and the fc
    for name, value in norms:
        assert value == pytest.approx(expected[name], rel=1e-4)
    # the shared model is untouched: no .grad, same mode, same BN statistics
    assert not model.training and all(p.grad is None for p in model.parameters())
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])


def _copy_gradient_norms(model, x, y, train_mode=True):
    """The earlier implementation, on a deep copy switched to the mode: the reference the copy-free one must equal."""
    from explorer.interpret.probes import forward_hooks
    from explorer.training.recorders import weight_layers

    work = copy.deepcopy(model).train(train_mode)
    weights = dict(weight_layers(work))
    order = []

    def make(name):
        def hook(module, inputs, output):
            if name not in order:
                order.append(name)

        return hook

    hooks = {n: make(n) for n in weights}
    for p in work.parameters():
        p.requires_grad_(True)
    with forward_hooks(work, hooks):
        loss = F.cross_entropy(work(x), y)
    grads = torch.autograd.grad(loss, [weights[n] for n in order])
    return [(n, float(g.norm())) for n, g in zip(order, grads, strict=True)]


def _as_found(model):
    """Everything gradient_norms must leave as it was: values, modes, requires_grad, .grad and hooks."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    flags = [(p.requires_grad, p.grad) for p in model.parameters()]
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    return state, modes, flags, hooks


@pytest.mark.parametrize(
    "config",
    [
        ResNetConfig("cifar", 14, shortcut="B"),
        ResNetConfig("cifar", 14, residual=False, preact=True),
        ResNetConfig("cifar", 20, preact=True, shortcut="B"),
        ResNetConfig("cifar", 11, block="bottleneck"),
    ],
)
@pytest.mark.parametrize("model_training", [False, True])
def test_gradient_norms_equal_the_copy_and_leave_the_model_as_found(config, model_training):
    model = build_resnet(config, seed=3).train(model_training)
    model.layer1[0].bn1.running_mean.add_(0.5)  # statistics of its own, so eval mode differs from batch statistics
    model.fc.bias.requires_grad_(False)  # a frozen parameter stays frozen
    x = torch.randn(6, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    y = torch.arange(6) % 10
    before = _as_found(model)
    for train_mode in (True, False):
        got, want = gradient_norms(model, x, y, train_mode), _copy_gradient_norms(model, x, y, train_mode)
        assert [n for n, _ in got] == [n for n, _ in want]
        np.testing.assert_allclose([v for _, v in got], [v for _, v in want], rtol=1e-5)
        after = _as_found(model)
        assert after[1:] == before[1:]
        for k, v in before[0].items():
            assert torch.equal(after[0][k], v), k
    eval_norms = gradient_norms(model, x, y, train_mode=False)
    assert eval_norms != gradient_norms(model, x, y, train_mode=True)  # the two modes are two different views


class _ReadOnly(dict):
    """A module's parameter or buffer dict that fails the test when written to."""

    def _refuse(self, *args, **kwargs):
        raise AssertionError(f"the shared model was written to: {args[:1]}")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _refuse


def test_gradient_norms_never_write_to_the_model_even_during_the_pass(tiny_model, cifar_batch):
    model = tiny_model.eval()
    seen = []
    handle = model.conv1.register_forward_hook(lambda m, i, o: seen.append(m))  # another view's hook, left on
    expected = {mode: _copy_gradient_norms(model, cifar_batch, torch.tensor([1, 7]), mode) for mode in (True, False)}
    seen.clear()
    for m in model.modules():  # other sessions may read a shared network meanwhile: nothing may change, even briefly
        m._parameters, m._buffers = _ReadOnly(m._parameters), _ReadOnly(m._buffers)
    for train_mode in (True, False):
        norms = gradient_norms(model, cifar_batch, torch.tensor([1, 7]), train_mode)
        np.testing.assert_allclose([v for _, v in norms], [v for _, v in expected[train_mode]], rtol=1e-5)
    assert not seen  # the pass runs on a copy of the modules: hooks on the model do not see it
    assert not model.training and all(not m.training for m in model.modules())
    handle.remove()


def test_depth_sweep_shapes_and_stop():
    calls = []
    out = depth_sweep(depths=(8, 14), batch=8, progress=lambda d, t: calls.append((d, t)))
    assert [(r.depth, r.residual) for r in out] == [(8, True), (8, False), (14, True), (14, False)]
    assert all(len(r.values) == r.depth for r in out)  # depth - 1 convs (option A) plus the fc
    assert all(v > 0 and np.isfinite(v) for r in out for v in r.values)
    assert calls[-1] == (4, 4) and out[1].name == "Plain-8"
    stop = threading.Event()
    stop.set()
    assert depth_sweep(depths=(8,), stop=stop) == []


def test_shapes_batch_is_normalised():
    x, y = shapes_batch(32)
    assert x.shape == (32, 3, 32, 32) and y.shape == (32,)
    assert abs(float(x.mean())) < 0.5 and 0.5 < float(x.std()) < 2


def test_autocorrelation_references():
    rng = np.random.default_rng(0)
    white = autocorrelation(rng.standard_normal(20_000), 5)
    assert white[0] == pytest.approx(1.0) and np.abs(white[1:]).max() < 0.03
    n = np.arange(4000)
    sine = autocorrelation(np.sin(2 * np.pi * n / 40), 20)
    assert sine[10] == pytest.approx(0.0, abs=0.01) and sine[20] == pytest.approx(-1.0, abs=0.01)
    assert (autocorrelation(np.ones(50), 3) == 0).all()


def test_shattered_derivative_matches_finite_differences(tiny_model):
    x, _ = shapes_batch(16)
    model = tiny_model.double()
    x0 = x[0].double()
    d = torch.randn(x0.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    u = torch.randn(10, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    res = shattered_gradients(model, x0, calibration=x.double(), n_points=40, max_lag=4, direction=d, projection=u)
    ref = calibrate_bn(model, x.double())
    h = 1e-5
    for i in (0, 17, 39):
        t = float(res.t[i])
        with torch.no_grad():
            f = [float(ref((x0 + s * d)[None])[0] @ u) for s in (t - h, t + h)]
        assert res.grad[i] == pytest.approx((f[1] - f[0]) / (2 * h), rel=1e-5, abs=1e-8)
    # chunking must not matter: in eval mode each point's gradient is its own
    other = shattered_gradients(
        model, x0, calibration=x.double(), n_points=40, max_lag=4, direction=d, projection=u, chunk=7
    )
    np.testing.assert_allclose(other.grad, res.grad, rtol=1e-10)


def test_shattered_plain_decorrelates_residual_does_not():
    x, _ = shapes_batch(64)
    lag1 = {}
    for residual in (True, False):
        model = build_resnet(ResNetConfig("cifar", 44, residual=residual), seed=0)
        res = shattered_gradients(model, x[0], calibration=x, n_points=48, span=0.2, max_lag=4)
        lag1[residual] = res.lag1
    assert lag1[True] > 0.5 and lag1[False] < 0.2, lag1  # measured 0.65 and -0.09


def test_shattered_stop_and_model_untouched(tiny_model, cifar_batch):
    before = copy.deepcopy(tiny_model.state_dict())
    stop = threading.Event()
    stop.set()
    assert (
        shattered_gradients(tiny_model, cifar_batch[0], calibration=cifar_batch, n_points=40, max_lag=4, stop=stop)
        is None
    )
    shattered_gradients(tiny_model, cifar_batch[0], calibration=cifar_batch, n_points=40, max_lag=4)
    assert tiny_model.training and all(p.requires_grad and p.grad is None for p in tiny_model.parameters())
    for k, v in tiny_model.state_dict().items():
        torch.testing.assert_close(v, before[k])


def test_note_cites_he_et_al():
    assert "section 4.1" in NO_VANISHING_NOTE and "vanish" in NO_VANISHING_NOTE


def test_gradient_charts_build(tiny_model, cifar_batch):
    from explorer.charts.gradients import gradient_norms_figure, shattered_figure
    from explorer.charts.style import PLAIN, RESIDUAL

    sweep = depth_sweep(depths=(8,), batch=4)
    fig = gradient_norms_figure(sweep)
    assert fig.layout.yaxis.type == "log" and [t.line.color for t in fig.data] == [RESIDUAL, PLAIN]
    res = shattered_gradients(tiny_model, cifar_batch[0], calibration=cifar_batch, n_points=40, max_lag=4)
    fig = shattered_figure([res, res])
    assert len(fig.data) == 4 and fig.data[1].name.startswith("ResNet-8 (lag 1:")


def test_note_says_gradients_explode_and_cites_yang():
    assert "Yang et al. 2019" in NO_VANISHING_NOTE and "healthy" not in NO_VANISHING_NOTE


def test_first_last_ratio_equals_the_precomputed_sweep():
    import json
    from pathlib import Path

    from explorer.experiments.precompute import load_sweep
    from explorer.interpret.gradient_results import first_last_ratios

    folder = Path(__file__).resolve().parents[2] / "assets" / "experiments"
    raw = {r["name"]: r for r in json.loads((folder / "gradient_sweep.json").read_text())["results"]}
    rows = {row["name"]: row for row in first_last_ratios(load_sweep(folder))}
    assert set(rows) == set(raw)
    for name, r in raw.items():
        assert rows[name]["first_layer"] == r["layers"][0] == "conv1" and rows[name]["last_layer"] == "fc"
        assert rows[name]["ratio"] == pytest.approx(r["values"][0] / r["values"][-1])
    # what the pages say: plain nets' gradients grow towards the input, ResNets' stay within ~10x
    assert rows["Plain-56"]["ratio"] > 100 and rows["Plain-110"]["ratio"] > 1e5
    assert all(0.1 < rows[f"ResNet-{d}"]["ratio"] < 10 for d in (20, 32, 44, 56, 110))


def test_first_last_ratio_of_a_fresh_sweep():
    from explorer.interpret.gradient_results import first_last_ratios

    sweep = depth_sweep(depths=(8,), batch=4)
    rows = first_last_ratios(sweep)
    assert [r["name"] for r in rows] == [s.name for s in sweep]
    assert rows[0]["ratio"] == pytest.approx(sweep[0].values[0] / sweep[0].values[-1])


def test_mean_abs_slope_of_the_precomputed_probe():
    import json
    from pathlib import Path

    from explorer.experiments.precompute import load_shattered

    folder = Path(__file__).resolve().parents[2] / "assets" / "experiments"
    raw = {r["name"]: r for r in json.loads((folder / "shattered.json").read_text())["results"]}
    got = {r.name: r.mean_abs_slope for r in load_shattered(folder)}
    for name, r in raw.items():
        assert got[name] == pytest.approx(float(np.mean(np.abs(r["grad"]))))
    assert got["Plain-56"] > 10 * got["ResNet-56"] and got["Plain-110"] > 1000 * got["ResNet-110"]


def test_scaled_gradient_norms_run_from_plain_twin_to_residual_and_leave_the_model_alone(tiny_config):
    """s = 0 computes what the plain twin computes, s = 1 the residual network; the model keeps its scale."""
    from dataclasses import replace

    from explorer.interpret.gradients import scaled_gradient_norms

    res = build_resnet(tiny_config, seed=0)
    plain = build_resnet(replace(tiny_config, residual=False), seed=0)  # option A: the same weights
    x, y = shapes_batch(8, seed=1)
    at = {s: [v for _n, v in scaled_gradient_norms(res, x, y, s)] for s in (0.0, 0.5, 1.0)}
    assert np.allclose(at[0.0], [v for _n, v in gradient_norms(plain, x, y)], rtol=1e-4)
    assert np.allclose(at[1.0], [v for _n, v in gradient_norms(res, x, y)], rtol=1e-4)
    assert not np.allclose(at[0.5], at[0.0], rtol=1e-3) and not np.allclose(at[0.5], at[1.0], rtol=1e-3)
    assert all(b.shortcut_scale == 1.0 for _n, b in res.blocks())
    with pytest.raises(ValueError):
        scaled_gradient_norms(res, x, y, 1.5)


@pytest.mark.parametrize(
    ("values", "ticks"),
    [
        ([0.08, 0.3, 0.55], ["0.1", "0.2", "0.5"]),  # the first chart of Gradients: labels every 0.05 ran together
        ([1.0, 4.7, 7.9], ["1", "2", "5"]),
        ([0.1, 1e6], None),  # seven decades: plotly's own powers of ten
    ],
)
def test_log_ticks_are_few_and_written_out_within_two_decades(values, ticks):
    from explorer.charts.gradients import log_ticks

    assert log_ticks(values).get("ticktext") == ticks
