"""Grad-CAM++, Score-CAM and LayerCAM against pytorch-grad-cam (the reference), batched against single images,
Score-CAM's forward count, progress and stop, bad targets, and the model put back as it was."""

import threading

import numpy as np
import pytest
import torch
import torchvision

from explorer.interpret.cams import CAM_METHODS, cam_maps, layer_channels, scorecam_passes
from explorer.interpret.methods import METHOD_LABELS, METHODS, attribute
from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet

pytest.importorskip("pytorch_grad_cam", reason="pytorch-grad-cam (grad-cam) is in requirements-dev.txt")
from pytorch_grad_cam import GradCAMPlusPlus, LayerCAM, ScoreCAM  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

REFERENCE = {"gradcam_pp": GradCAMPlusPlus, "scorecam": ScoreCAM, "layercam": LayerCAM}


def reference_maps(model, x, method, layer, targets) -> np.ndarray:
    """pytorch-grad-cam's maps (B, H, W) as its README runs them, with one target per image."""
    with REFERENCE[method](model=model, target_layers=[model.get_submodule(layer)]) as cam:
        cam.batch_size = 256  # Score-CAM's masked images per forward (its default, 16, is only slower)
        return cam(input_tensor=x, targets=[ClassifierOutputTarget(int(t)) for t in targets])


def assert_agree(ours: np.ndarray, ref: np.ndarray) -> None:
    assert ours.shape == ref.shape
    for a, b in zip(ours, ref, strict=True):
        assert a.std() > 0 and b.std() > 0  # a constant map would make the correlation meaningless
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] >= 0.99
        assert a.max() == pytest.approx(1.0) and a.min() >= 0.0


@pytest.fixture(scope="module")
def resnet18_pair():
    """torchvision's ResNet-18 (seeded random weights, no download) and ours holding the same state_dict."""
    torch.manual_seed(18)
    tv = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    ours = build_resnet(ResNetConfig("imagenet", 18, num_classes=10)).eval()
    ours.load_state_dict(tv.state_dict(), strict=True)
    return tv, ours


@pytest.mark.parametrize(
    ("method", "layer", "images"),
    [
        ("gradcam_pp", "layer4.1", 2),
        ("gradcam_pp", "layer2.0.conv1", 2),
        ("layercam", "layer4.1", 2),
        ("layercam", "layer2.0.conv1", 2),
        ("scorecam", "layer3.1", 1),  # 256 masked forwards per image; the last block's 512 would double the time
    ],
)
def test_torchvision_resnet18_agrees_with_pytorch_grad_cam(resnet18_pair, method, layer, images):
    tv, ours = resnet18_pair
    x = torch.randn(images, 3, 64, 64, generator=torch.Generator().manual_seed(0))  # layer4: 2 x 2
    targets = [3, 7][:images]
    assert_agree(cam_maps(ours, x, method, layer, targets), reference_maps(tv, x, method, layer, targets))


@pytest.mark.parametrize("method", CAM_METHODS)
@pytest.mark.parametrize(("residual", "layer"), [(True, "layer3.1"), (False, "layer3.1"), (False, "layer2.0.conv1")])
def test_cifar_net_and_its_plain_twin_agree_with_pytorch_grad_cam(method, residual, layer):
    model = build_resnet(ResNetConfig(depth=14, width=8, residual=residual), seed=1).eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    targets = [0, 9]
    assert_agree(cam_maps(model, x, method, layer, targets), reference_maps(model, x, method, layer, targets))


@pytest.mark.parametrize("method", CAM_METHODS)
def test_batched_maps_equal_one_image_at_a_time_and_the_registry(method, tiny_model):
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    targets = torch.tensor([4, 1, 4])
    batched = cam_maps(tiny_model, x, method, "layer2.0", targets)
    assert batched.shape == (3, 32, 32) and batched.dtype == np.float32
    for i in range(3):
        one = attribute(tiny_model, x[i], method, "layer2.0", int(targets[i]))
        np.testing.assert_allclose(batched[i], one, atol=1e-5)
    assert method in METHODS and METHOD_LABELS[method]


def test_no_target_explains_the_predicted_class(tiny_model):
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    tiny_model.eval()
    with torch.no_grad():
        predicted = tiny_model(x).argmax(1)
    for method in CAM_METHODS:
        np.testing.assert_array_equal(cam_maps(tiny_model, x, method), cam_maps(tiny_model, x, method, None, predicted))


@pytest.mark.parametrize("targets", [[1], [0, 10], [-1, 2]])
def test_bad_targets_raise_and_leave_no_hook_and_the_model_as_it_was(tiny_model, targets):
    tiny_model.train()
    x = torch.randn(2, 3, 32, 32)
    for method in CAM_METHODS:
        with pytest.raises(ValueError, match="target"):
            cam_maps(tiny_model, x, method, "layer3.0", targets)
    assert tiny_model.training and all(p.requires_grad for p in tiny_model.parameters())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in tiny_model.modules())
    with pytest.raises(ValueError, match="unknown CAM method"):
        cam_maps(tiny_model, x, "gradcam", "layer3.0")


def test_raw_maps_are_signed_and_unscaled(tiny_model):
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    raw = cam_maps(tiny_model, x, "gradcam_pp", "layer1.0.conv1", [2], raw=True)[0]
    shown = cam_maps(tiny_model, x, "gradcam_pp", "layer1.0.conv1", [2])[0]
    assert raw.min() < 0 < raw.max()  # non-negative weights on a conv's signed output
    assert raw.max() != pytest.approx(1.0) and shown.max() == pytest.approx(1.0)
    assert np.corrcoef(np.maximum(raw, 0).ravel(), shown.ravel())[0, 1] > 0.95


def test_scorecam_passes_are_the_forwards_it_runs(tiny_model):
    assert layer_channels(tiny_model, "layer3.0") == 32 and layer_channels(tiny_model, "layer1.0.conv1") == 8
    rows = []
    handle = tiny_model.register_forward_pre_hook(lambda m, inputs: rows.append(len(inputs[0])))
    try:
        cam_maps(tiny_model, torch.randn(3, 3, 32, 32), "scorecam", "layer3.0", [0, 1, 2], batch_size=40)
    finally:
        handle.remove()
    assert sum(rows) == scorecam_passes(tiny_model, "layer3.0", images=3) == 3 * (32 + 1)
    assert rows == [3, 40, 40, 16]  # the first forward, then the 96 masked images 40 at a time


def test_scorecam_passes_for_resnet50_last_block():
    model = build_resnet(ResNetConfig("imagenet", 50))
    assert scorecam_passes(model) == 2049 and scorecam_passes(model, "layer1.0.conv1", images=2) == 2 * 65


def test_scorecam_progress_and_stop(tiny_model):
    x = torch.randn(2, 3, 32, 32)
    seen = []
    cam_maps(tiny_model, x, "scorecam", "layer3.0", progress=lambda d, t: seen.append((d, t)), batch_size=24)
    assert seen == [(24, 64), (48, 64), (64, 64)]
    stop = threading.Event()
    halted = []

    def press(done, total):
        halted.append(done)
        stop.set()

    assert cam_maps(tiny_model, x, "scorecam", "layer3.0", progress=press, stop=stop, batch_size=24) is None
    assert halted == [24]
