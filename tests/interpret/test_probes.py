"""Activation capture and feature maps: values against direct computation, hooks removed, modes restored."""

import copy

import numpy as np
import pytest
import torch

from explorer.interpret.probes import (
    all_feature_maps,
    feature_layers,
    feature_maps,
    inside_view,
    record_activations,
    residual_decomposition,
)
from explorer.models.resnet import build_resnet


def _hook_count(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _stem(model, x):
    return model.relu(model.bn1(model.conv1(x)))


def test_record_activations_values(tiny_model, cifar_batch):
    model = tiny_model.eval()
    with record_activations(model, ["relu", "layer1", "layer2.0", "fc"]) as acts:
        logits = model(cifar_batch)
    with torch.no_grad():
        stem = _stem(model, cifar_batch)
        l1 = model.layer1(stem)
        torch.testing.assert_close(acts["relu"], stem)
        torch.testing.assert_close(acts["layer1"], l1)
        torch.testing.assert_close(acts["layer2.0"], model.layer2[0](l1))
    torch.testing.assert_close(acts["fc"], logits.detach())
    assert not acts["fc"].requires_grad and acts["fc"].data_ptr() != logits.data_ptr()  # a detached clone


def test_unknown_name_lists_valid(tiny_model):
    with (
        pytest.raises(ValueError, match=r"no layer named 'layer9'.*layer1\.0"),
        record_activations(tiny_model, ["layer1", "layer9"]),
    ):
        pass
    assert _hook_count(tiny_model) == 0  # the hook on layer1 was not left behind either


def test_no_hooks_after_exception(tiny_model, cifar_batch):
    assert _hook_count(tiny_model) == 0
    with pytest.raises(RuntimeError, match="boom"), record_activations(tiny_model, ["layer1.0", "layer2", "fc"]):
        tiny_model(cifar_batch)
        assert _hook_count(tiny_model) == 3
        raise RuntimeError("boom")
    assert _hook_count(tiny_model) == 0


def test_views_restore_mode_and_leave_model_untouched(tiny_model, cifar_batch):
    model = tiny_model.train()
    model.layer2.eval()  # a mixed state must come back exactly
    before = copy.deepcopy(model.state_dict())
    flags = [m.training for m in model.modules()]
    feature_maps(model, "layer1.0", cifar_batch)
    residual_decomposition(model, "layer2.0", cifar_batch)
    all_feature_maps(model, cifar_batch)
    inside_view(model, "layer3.0", "layer1.0", cifar_batch)
    assert [m.training for m in model.modules()] == flags
    for k, v in model.state_dict().items():  # eval mode: BN running stats not updated either
        torch.testing.assert_close(v, before[k])
    assert all(p.requires_grad for p in model.parameters()) and all(p.grad is None for p in model.parameters())
    assert _hook_count(model) == 0


def test_feature_maps_top_channels_and_stats(tiny_model, cifar_batch):
    model = tiny_model.eval()
    fm = feature_maps(model, "layer1.0", cifar_batch, k=4)
    with torch.no_grad():
        a = model.layer1[0](_stem(model, cifar_batch))[0]  # (C, H, W)
    flat = a.flatten(1)
    expected = torch.argsort(flat.clamp(min=0).mean(1), descending=True)[:4]
    assert fm.channels.tolist() == expected.tolist()
    torch.testing.assert_close(torch.from_numpy(fm.maps), a[expected])
    torch.testing.assert_close(torch.from_numpy(fm.mean), flat.mean(1))
    torch.testing.assert_close(torch.from_numpy(fm.active), (flat > 0).float().mean(1))
    assert fm.shape == tuple(a.shape) and fm.maps.shape == (4, 32, 32)
    assert (fm.active >= 0).all() and (fm.active <= 1).all() and (fm.max >= fm.mean).all()


def test_all_feature_maps_one_pass(tiny_model, cifar_batch):
    out = all_feature_maps(tiny_model, cifar_batch[0])
    assert list(out) == feature_layers(tiny_model) == ["relu", "layer1.0", "layer2.0", "layer3.0"]
    assert out["layer3.0"].maps.shape == (16, 8, 8) and out["layer3.0"].shape == (32, 8, 8)
    fc = all_feature_maps(tiny_model, cifar_batch, ["fc"], k=3)["fc"]  # a vector becomes (C, 1, 1)
    assert fc.maps.shape == (3, 1, 1)


def test_views_stop_after_the_last_layer_they_read(tiny_model, cifar_batch):
    """A view of one layer or one block runs the network only up to it, and gets what a full pass gives."""
    model = tiny_model.eval()
    ran = []
    handles = [model.get_submodule(n).register_forward_hook(lambda *a, n=n: ran.append(n)) for n in ("layer3.0", "fc")]
    try:
        with record_activations(model, ["layer1.0", "layer2.0"]) as acts:
            model(cifar_batch[:1])
        assert ran == ["layer3.0", "fc"]
        ran.clear()
        fm = feature_maps(model, "layer2.0", cifar_batch, k=3)
        torch.testing.assert_close(torch.from_numpy(fm.maps), acts["layer2.0"][0][torch.from_numpy(fm.channels)])
        d = residual_decomposition(model, "layer1.0", cifar_batch)
        torch.testing.assert_close(torch.from_numpy(d["out"]), acts["layer1.0"][0])
        assert ran == []  # neither view ran the last stage or the classifier
        assert sorted(all_feature_maps(model, cifar_batch)) == sorted(feature_layers(model)) and ran == ["layer3.0"]
    finally:
        for h in handles:
            h.remove()
    assert _hook_count(model) == 0 and not model.training


@pytest.mark.parametrize("block", ["layer1.0", "layer2.0"])
def test_residual_decomposition_residual(tiny_model, cifar_batch, block):
    d = residual_decomposition(tiny_model, block, cifar_batch)
    assert d["residual"] and d["shortcut"] is not None
    torch.testing.assert_close(torch.from_numpy(d["sum"]), torch.from_numpy(d["branch"] + d["shortcut"]))
    torch.testing.assert_close(torch.from_numpy(d["out"]), torch.from_numpy(d["sum"]).clamp(min=0))
    if block == "layer1.0":  # identity shortcut: the shortcut is x itself
        torch.testing.assert_close(torch.from_numpy(d["shortcut"]), torch.from_numpy(d["x"]))
    else:  # option A: every other pixel, channels zero-padded
        assert (
            d["x"].shape == (8, 32, 32) and d["shortcut"].shape == (16, 16, 16) and d["reshapes"] and not d["bypassed"]
        )
    assert d["ratio"] == pytest.approx(d["norms"]["branch"] / d["norms"]["shortcut"])


def test_residual_decomposition_plain(tiny_config, cifar_batch):
    plain = build_resnet(tiny_config.twin())
    d = residual_decomposition(plain, "layer1.0", cifar_batch)
    assert not d["residual"] and d["shortcut"] is None and d["sum"] is None and d["ratio"] is None
    assert not d["residual"] and not d["reshapes"]
    torch.testing.assert_close(torch.from_numpy(d["out"]), torch.from_numpy(d["branch"]).clamp(min=0))
    with pytest.raises(ValueError, match="not a residual block"):
        residual_decomposition(plain, "layer1.0.conv1", cifar_batch)


def test_inside_charts_build(tiny_model, tiny_config, cifar_batch):
    from explorer.charts.inside import channel_stats_figure, feature_map_figure, residual_figure

    fm = feature_maps(tiny_model, "layer1.0", cifar_batch, k=6)
    fig = feature_map_figure(fm, cols=3)
    assert len(fig.data) == 6 and fig.data[0].z.shape == (32, 32) and "top 6 of 8" in fig.layout.title.text
    assert len(channel_stats_figure(fm).data) == 2
    res = residual_figure(residual_decomposition(tiny_model, "layer2.0", cifar_batch))
    assert len(res.data) == 5 and "‖F(x)‖ / ‖shortcut‖" in res.layout.title.text  # x, F(x), shortcut, sum, out
    plain = residual_figure(residual_decomposition(build_resnet(tiny_config.twin()), "layer1.0", cifar_batch))
    assert len(plain.data) == 3 and "plain block" in plain.layout.title.text


@pytest.mark.parametrize("residual", [True, False])
def test_layer_responses_equal_a_direct_computation(residual, cifar_batch):
    import numpy as np

    from explorer.interpret.probes import layer_responses, response_layers

    model = build_resnet(depth=8, width=8, residual=residual, seed=0)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():  # a "trained" network: BN statistics and scales that are not 0/1
        for name, t in model.named_buffers():
            if name.endswith("running_mean"):
                t.copy_(torch.randn(t.shape, generator=g))
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
        for name, p in model.named_parameters():
            if "bn" in name:
                p.add_(0.5 * torch.randn(p.shape, generator=g))
    model.train()
    names, stds = layer_responses(model, cifar_batch)
    assert names == [
        "bn1",
        "layer1.0.bn1",
        "layer1.0.bn2",
        "layer2.0.bn1",
        "layer2.0.bn2",
        "layer3.0.bn1",
        "layer3.0.bn2",
    ]
    assert model.training  # mode restored
    model.eval()
    with torch.no_grad():  # layer2.0's second 3x3 conv, after BN, before the addition and the ReLU
        h = model.relu(model.bn1(model.conv1(cifar_batch)))
        h = model.layer1(h)
        b = model.layer2[0]
        direct = b.bn2(b.conv2(b.relu1(b.bn1(b.conv1(h)))))
    assert stds[names.index("layer2.0.bn2")] == pytest.approx(float(direct.std()), rel=1e-5)
    with torch.no_grad():
        stem = model.bn1(model.conv1(cifar_batch))
    assert stds[0] == pytest.approx(float(stem.std()), rel=1e-5)
    assert np.all(stds > 0)
    from explorer.models.config import ResNetConfig
    from explorer.models.resnet import ResNet

    with torch.device("meta"):  # structure only
        bottleneck = ResNet(ResNetConfig("imagenet", 50))
    assert response_layers(bottleneck)[:2] == ["layer1.0.bn2", "layer1.1.bn2"]  # the 7x7 stem is left out


def test_branch_ratios_zero_gamma(cifar_batch):
    from explorer.interpret.probes import branch_ratios, residual_decomposition

    model = build_resnet(depth=8, width=8, seed=0)
    ratios = branch_ratios(model, cifar_batch[:1])
    assert [n for n, _ in ratios] == ["layer1.0", "layer2.0", "layer3.0"]
    for name, r in ratios:  # the same ratio the one-block view computes
        assert r == pytest.approx(residual_decomposition(model, name, cifar_batch[:1])["ratio"], rel=1e-5)
    assert all(r > 0.1 for _, r in ratios)
    zero = build_resnet(depth=8, width=8, seed=0, zero_init_residual=True)
    assert all(r == 0.0 for _, r in branch_ratios(zero, cifar_batch))


def _same(a, b) -> None:
    """Two results of the probes (FeatureMaps, dicts, arrays, floats) are identical, bit for bit."""
    if hasattr(a, "__dataclass_fields__"):
        a, b = vars(a), vars(b)
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), (a, b)
    else:
        assert a == b


@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize(
    ("layer", "block"),
    [("relu", "layer1.0"), ("layer2.0", "layer2.0"), ("layer3.0", "layer1.0"), ("layer1.0", "layer3.0")],
)
def test_inside_view_is_both_views_from_one_pass(tiny_config, cifar_batch, residual, layer, block):
    """One forward pass gives exactly what ``feature_maps`` and ``residual_decomposition`` give separately,
    runs only up to the later of the two, leaves no hook and puts the model's mode back."""
    model = build_resnet(tiny_config if residual else tiny_config.twin(), seed=0).train()
    fm, dec = inside_view(model, layer, block, cifar_batch, k=5)
    _same(fm, feature_maps(model, layer, cifar_batch, k=5))
    _same(dec, residual_decomposition(model, block, cifar_batch))
    calls = []
    handles = [
        model.get_submodule(n).register_forward_hook(lambda *a, n=n: calls.append(n)) for n in feature_layers(model)
    ]
    try:
        inside_view(model, layer, block, cifar_batch, k=5)
    finally:
        for h in handles:
            h.remove()
    order = feature_layers(model)
    assert calls == order[: max(order.index(layer), order.index(block)) + 1]  # one pass, stopped after the later
    assert _hook_count(model) == 0 and model.training
    with pytest.raises(ValueError, match="not a residual block"):
        inside_view(model, layer, "layer1.0.conv1", cifar_batch)
    assert _hook_count(model) == 0 and model.training
