"""Grad-CAM against a hand-computed map, the method registry, hook removal and restored model state."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explorer.interpret.gradcam import filmstrip, grad_cam, predict, target_layers, top_k
from explorer.interpret.methods import METHODS, attribute, compare_methods
from explorer.models.resnet import build_resnet

# a 4x4 one-channel image and two hand-set 2x2 filters (no padding): the conv output is 3x3
IMAGE = np.array(
    [
        [1.0, 2.0, 0.0, 1.0],
        [0.0, 1.0, 3.0, 1.0],
        [2.0, 0.0, 1.0, 0.0],
        [1.0, 1.0, 0.0, 2.0],
    ]
)
FILTERS = np.array(
    [
        [[1.0, 0.0], [0.0, 1.0]],  # sums the diagonal
        [[0.0, 1.0], [-1.0, 0.0]],  # anti-diagonal difference: negative in places
    ]
)
FC = np.array([[2.0, 3.0], [-1.0, -2.0]])  # class 0 likes both channels; class 1 dislikes both


class ToyNet(nn.Module):
    """conv (fixed weights) -> relu -> global average pool -> linear (fixed weights), like captum's one-conv net."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, kernel_size=2, bias=False)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2, 2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor(FILTERS, dtype=torch.float32)[:, None])
            self.fc.weight.copy_(torch.tensor(FC, dtype=torch.float32))
            self.fc.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.relu(self.conv(x))), 1))


def hand_acts(k: int) -> np.ndarray:
    """relu(conv) for filter k, by loops."""
    acts = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            acts[i, j] = max(0.0, float((IMAGE[i : i + 2, j : j + 2] * FILTERS[k]).sum()))
    return acts


def hand_cam(target: int) -> np.ndarray:
    """Grad-CAM by hand: A = relu(conv), alpha_k = w_fc[t, k] / (h * w) (the gradient through the mean), sum."""
    acts = np.stack([hand_acts(k) for k in range(2)])
    alpha = FC[target] / 9.0
    return np.tensordot(alpha, acts, axes=1)  # (3, 3), signed


def toy_input() -> torch.Tensor:
    return torch.tensor(IMAGE, dtype=torch.float32)[None]  # (1, 4, 4)


def test_grad_cam_equals_hand_computed_map():
    expected = hand_cam(0)
    assert expected.max() > 0 and expected.min() == 0  # evidence for class 0, and a few silent positions
    res = grad_cam(ToyNet(), toy_input(), layer="relu", target=0)
    np.testing.assert_allclose(res.low_res, expected, rtol=1e-6)
    assert res.target == 0 and res.layer == "relu" and res.has_positive_evidence
    # bilinear upsampling 3x3 -> 4x4 (half-pixel centres): the corner keeps its value, pixel (1, 1)
    # sits at source (0.625, 0.625) and mixes four cells; then the map is divided by its max
    up = np.zeros((4, 4))
    up[0, 0] = expected[0, 0]
    up[1, 1] = (
        0.375 * 0.375 * expected[0, 0]
        + 0.375 * 0.625 * (expected[0, 1] + expected[1, 0])
        + 0.625 * 0.625 * expected[1, 1]
    )
    peak = F.interpolate(torch.tensor(expected)[None, None], (4, 4), mode="bilinear")[0, 0].max().item()
    assert res.peak == pytest.approx(peak, rel=1e-6)
    assert res.map[0, 0] == pytest.approx(up[0, 0] / peak, rel=1e-6)
    assert res.map[1, 1] == pytest.approx(up[1, 1] / peak, rel=1e-6)
    assert res.map.max() == pytest.approx(1.0)


def test_no_positive_evidence_is_reported_not_nan():
    expected = hand_cam(1)
    assert expected.max() <= 0  # class 1 dislikes every channel
    res = grad_cam(ToyNet(), toy_input(), layer="relu", target=1)
    assert not res.has_positive_evidence
    assert np.all(res.map == 0) and not np.isnan(res.map).any()
    raw = grad_cam(ToyNet(), toy_input(), layer="relu", target=1, raw=True)
    np.testing.assert_allclose(raw.low_res, expected, rtol=1e-6)  # signed, unscaled
    assert raw.map.min() < 0 and not raw.has_positive_evidence


def test_default_target_is_prediction_and_probability():
    res = grad_cam(ToyNet(), toy_input(), layer="relu")
    assert res.target == 0  # class 0's logit is positive, class 1's negative
    acts_mean = np.array([hand_acts(k).mean() for k in range(2)])
    logits = FC @ acts_mean
    assert res.probability == pytest.approx(np.exp(logits[0]) / np.exp(logits).sum(), rel=1e-5)


def all_hooks(model: nn.Module) -> int:
    n = 0
    for m in model.modules():
        n += len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        n += len(m._backward_pre_hooks)
    g = torch.nn.modules.module
    n += len(g._global_forward_hooks) + len(g._global_forward_pre_hooks) + len(g._global_backward_hooks)
    return n


@pytest.mark.parametrize("residual", [True, False])
def test_methods_shapes_range_and_state_restored(tiny_config, cifar_batch, residual):
    model = build_resnet(tiny_config, residual=residual)
    model.train()
    model.conv1.weight.requires_grad_(False)  # a flag the views must put back as it was
    maps = compare_methods(model, cifar_batch[0], target=3)
    assert list(maps) == list(METHODS)
    for name, m in maps.items():
        assert m.shape == (32, 32), name
        assert np.isfinite(m).all() and m.min() >= 0 and m.max() == pytest.approx(1.0), name
    assert model.training
    assert not model.conv1.weight.requires_grad and model.fc.weight.requires_grad
    assert all(p.grad is None for p in model.parameters())
    assert all_hooks(model) == 0


def test_methods_differ_from_each_other(tiny_model, cifar_batch):
    maps = compare_methods(tiny_model, cifar_batch[0], target=2)
    for a in maps:
        for b in maps:
            if a < b:
                assert not np.allclose(maps[a], maps[b]), (a, b)


@pytest.mark.parametrize("method", list(METHODS))
def test_no_hooks_after_exception(tiny_model, cifar_batch, method):
    with pytest.raises(ValueError, match="class index"):
        attribute(tiny_model, cifar_batch[0], method, target=10)  # 10 classes: 0..9
    bad = torch.zeros(4, 32, 32)  # four channels: the stem conv fails mid-forward, with hooks registered
    with pytest.raises(RuntimeError):
        attribute(tiny_model, bad, method, target=1)
    assert all_hooks(tiny_model) == 0
    assert tiny_model.training and all(p.requires_grad for p in tiny_model.parameters())


def test_layers_default_and_errors(tiny_model, cifar_batch):
    assert grad_cam(tiny_model, cifar_batch[0]).layer == "layer3.0"  # depth 8: one block per stage
    for name in ("conv1", "layer1", "layer2.0.conv2", "layer2.0.relu2"):
        res = grad_cam(tiny_model, cifar_batch[0], layer=name, target=0)
        assert res.map.shape == (32, 32) and res.layer == name
    with pytest.raises(ValueError, match="valid names"):
        grad_cam(tiny_model, cifar_batch[0], layer="fc")
    with pytest.raises(ValueError, match="valid names"):
        grad_cam(tiny_model, cifar_batch[0], layer="layer9")
    with pytest.raises(ValueError, match="name the Grad-CAM layer"):
        grad_cam(ToyNet(), toy_input())
    with pytest.raises(ValueError, match="one image"):
        grad_cam(tiny_model, cifar_batch)
    assert "layer3.0" in target_layers(tiny_model) and "fc" not in target_layers(tiny_model)


def test_raw_maps_are_signed_and_unscaled(tiny_model, cifar_batch):
    raw = grad_cam(tiny_model, cifar_batch[0], target=4, raw=True)
    plain = grad_cam(tiny_model, cifar_batch[0], target=4)
    assert raw.map.min() < 0 < raw.map.max()
    np.testing.assert_allclose(np.maximum(raw.low_res, 0), plain.low_res, rtol=1e-5, atol=1e-7)
    assert plain.has_positive_evidence and plain.map.max() == pytest.approx(1.0)
    # bilinear weights are non-negative, so upsampling the signed map never exceeds the relu'd one
    assert raw.map.max() <= plain.peak + 1e-7


def test_top_k_matches_softmax(tiny_model, cifar_batch):
    classes = [f"c{i}" for i in range(10)]
    top = top_k(tiny_model, cifar_batch[0], k=3, classes=classes)
    tiny_model.eval()
    with torch.no_grad():
        probs = torch.softmax(tiny_model(cifar_batch[:1]), 1)[0]
    best = torch.argsort(probs, descending=True)[:3]
    assert [n for n, _ in top] == [classes[i] for i in best]
    np.testing.assert_allclose([p for _, p in top], probs[best].numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="class names"):
        top_k(tiny_model, cifar_batch[0], classes=["a"])


def test_filmstrip_one_map_per_block(cifar_batch):
    model = build_resnet(depth=14, width=8)
    strip = filmstrip(model, cifar_batch[0], target=1)
    assert [n for n, _ in strip] == [n for n, _ in model.blocks()]
    for name, m in strip:
        np.testing.assert_allclose(m, grad_cam(model, cifar_batch[0], name, 1).map, rtol=1e-5, atol=1e-5)
    assert all_hooks(model) == 0


def test_overlay_blends_colour_map_exactly():
    from explorer.charts.colors import COLOURMAPS, colourise, overlay_rgb

    img = np.full((3, 2, 4), 0.5)  # (3, H, W) float in [0, 1]: grey 128
    cam = np.array([[0.0, 0.5, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    first = np.array([int(COLOURMAPS["inferno"][0][i : i + 2], 16) for i in (1, 3, 5)])
    last = np.array([int(COLOURMAPS["inferno"][-1][i : i + 2], 16) for i in (1, 3, 5)])
    colours = colourise(cam)
    np.testing.assert_array_equal(colours[0, 0], first)
    np.testing.assert_array_equal(colours[0, 2], last)
    np.testing.assert_array_equal(overlay_rgb(img, cam, opacity=0.0), np.full((2, 4, 3), 128))
    out = overlay_rgb(np.full((2, 4, 3), 128, np.uint8), cam, opacity=0.25)
    np.testing.assert_array_equal(out[0, 2], np.round(0.75 * 128 + 0.25 * last))
    signed = colourise(np.array([[-1.0, 0.0, 1.0]]), "rdbu", -1.0, 1.0)[0]
    assert signed[0, 2] > signed[0, 0] and signed[2, 0] > signed[2, 2]  # blue for negative, red for positive
    with pytest.raises(ValueError, match="differ in size"):
        overlay_rgb(np.zeros((4, 4, 3)), cam)
    with pytest.raises(ValueError, match="colour map"):
        colourise(cam, "jet")


def test_figures_build(tiny_model, cifar_batch):
    from explorer.charts import spec
    from explorer.charts.attribution import filmstrip_figure, method_grid_figure, overlay_spec

    img = cifar_batch[0].sigmoid()
    cam = grad_cam(tiny_model, cifar_batch[0], target=1)
    fig = spec.as_figure(overlay_spec(img, cam.map, opacity=0.4, title="t"))  # plotly validates the dict
    assert fig.data[1].opacity == 0.4 and fig.layout.font.size >= 16
    strip = filmstrip(tiny_model, cifar_batch[0], target=1)
    assert len(filmstrip_figure(img, strip).data) == 3
    assert len(method_grid_figure(img, {"ResNet-8": {"gradcam": cam.map, "saliency": cam.map}}).data) == 3


def test_threads_share_a_model_safely(tiny_model, cifar_batch):
    import threading

    expected = [grad_cam(tiny_model, cifar_batch[i % 2], target=i).map for i in range(4)]
    got = [None] * 4

    def work(i):
        got[i] = grad_cam(tiny_model, cifar_batch[i % 2], target=i).map

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5)
    assert tiny_model.training and all(p.requires_grad for p in tiny_model.parameters()) and all_hooks(tiny_model) == 0


@pytest.mark.parametrize(
    "config",
    [dict(depth=14, width=8), dict(depth=8, width=8, residual=False), dict(family="imagenet", depth=18, width=16)],
)
@pytest.mark.parametrize("raw", [False, True])
def test_one_pass_filmstrip_equals_captum_per_block(config, raw):
    """Every block's map from one forward and one backward pass equals captum's LayerGradCam for that block."""
    from captum.attr import LayerAttribution, LayerGradCam

    from explorer.interpret.gradcam import grad_cams

    model = build_resnet(**config).eval()
    size = 64 if config.get("family") == "imagenet" else 32
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    calls = []
    handle = model.conv1.register_forward_pre_hook(lambda m, i: calls.append(1))
    try:
        cams = grad_cams(model, x, target=3, raw=raw)
    finally:
        handle.remove()
    assert len(calls) == 1  # one forward pass for all blocks
    assert list(cams) == [n for n, _ in model.blocks()]
    for name, res in cams.items():
        ref = LayerGradCam(model, model.get_submodule(name)).attribute(x, target=3, relu_attributions=not raw)
        np.testing.assert_allclose(res.low_res, ref[0, 0].detach().numpy(), atol=1e-5, rtol=1e-5)
        up = LayerAttribution.interpolate(ref, (size, size), "bilinear")[0, 0].detach().numpy()
        expected = up if raw else (up / up.max() if ref.max() > 0 else np.zeros_like(up))
        np.testing.assert_allclose(res.map, expected, atol=1e-5, rtol=1e-5)
        assert res.target == 3 and res.layer == name
    assert all_hooks(model) == 0 and all(p.requires_grad for p in model.parameters())


def test_grad_cams_any_layers_and_predicted_target(tiny_model, cifar_batch):
    from explorer.interpret.gradcam import grad_cams

    layers = ["conv1", "relu", "layer1", "layer2.0.conv1", "layer3.0"]
    cams = grad_cams(tiny_model, cifar_batch[0], layers)
    assert list(cams) == layers
    for name, res in cams.items():
        np.testing.assert_allclose(res.map, grad_cam(tiny_model, cifar_batch[0], name).map, atol=1e-5)
    with pytest.raises(ValueError, match="not a conv layer"):
        grad_cams(tiny_model, cifar_batch[0], ["layer1.0", "fc"])
    assert all_hooks(tiny_model) == 0


@pytest.mark.parametrize(
    "config",
    [
        dict(depth=20, width=8),
        dict(depth=20, width=8, residual=False),
        dict(depth=14, width=4, shortcut="B"),
        dict(depth=110, width=4, preact=True),
        dict(family="imagenet", depth=18, width=16, stem="small"),
    ],
)
@pytest.mark.parametrize("raw", [False, True])
def test_prediction_and_grad_cam_from_one_forward_equal_the_two_apart(config, raw):
    """Explain's one pass per network gives exactly predict's probabilities and grad_cam's map of the
    predicted class, which is also exactly grad_cam's map when that class is asked for by its index."""
    from explorer.interpret.gradcam import predict_and_grad_cam

    model = build_resnet(**config).eval()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    calls = []
    handle = model.conv1.register_forward_pre_hook(lambda m, i: calls.append(1))
    try:
        probs, res = predict_and_grad_cam(model, x, "layer1", raw=raw)
    finally:
        handle.remove()
    assert len(calls) == 1
    np.testing.assert_array_equal(probs, predict(model, x))
    assert res.target == int(np.argmax(probs))
    for other in (grad_cam(model, x, "layer1", None, raw=raw), grad_cam(model, x, "layer1", res.target, raw=raw)):
        np.testing.assert_array_equal(res.map, other.map)
        np.testing.assert_array_equal(res.low_res, other.low_res)
        assert (res.target, res.probability, res.peak) == (other.target, other.probability, other.peak)
