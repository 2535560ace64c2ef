"""Trust checks: rank statistics against hand values, the randomisation curve, localisation scores."""

import copy

import numpy as np
import pytest
import torch

from explorer.interpret.gradcam import grad_cam
from explorer.interpret.trust import (
    cascading_randomisation,
    default_tolerance,
    energy_inside,
    hit_zone,
    localisation,
    pearson,
    pointing_hit,
    randomisation_steps,
    rank,
    spearman,
    top_overlap,
)
from explorer.models.resnet import build_resnet


def test_rank_averages_ties():
    np.testing.assert_array_equal(rank(np.array([3.0, 1.0, 2.0, 2.0])), [4.0, 1.0, 2.5, 2.5])
    np.testing.assert_array_equal(rank(np.zeros((2, 2))), [2.5, 2.5, 2.5, 2.5])


def test_spearman_hand_values():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    b = np.array([5.0, 6.0, 7.0, 8.0, 7.0])  # ranks 1, 2, 3.5, 5, 3.5
    # rank deviations (-2, -1, 0, 1, 2) and (-2, -1, 0.5, 2, 0.5): 8 / sqrt(10 * 9.5)
    assert spearman(a, b) == pytest.approx(8 / np.sqrt(95))
    assert spearman(a, a**3) == pytest.approx(1.0)  # any increasing transform
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(a, np.ones(5)) == 0.0  # constant: defined as 0, never NaN
    assert pearson(a, 2 * a + 1) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shape"):
        spearman(np.zeros((2, 2)), np.zeros(4))


def test_top_overlap():
    a = np.arange(10.0)
    assert top_overlap(a, a, share=0.2) == 1.0
    assert top_overlap(a, -a, share=0.2) == 0.0
    assert top_overlap(a, np.array([0, 0, 0, 0, 0, 0, 0, 0, 9, 0.0]), share=0.2) == pytest.approx(1 / 3)


def test_energy_inside_hand_mask():
    sal = np.array([[1.0, 2.0, -5.0], [0.0, 3.0, 0.0], [4.0, 0.0, 0.0]])
    mask = np.zeros((3, 3), bool)
    mask[1, 1] = mask[0, 1] = True  # holds 2 + 3 of the positive 1 + 2 + 3 + 4
    assert energy_inside(sal, mask) == pytest.approx(0.5)
    assert energy_inside(-np.abs(sal), mask) is None  # no positive evidence: reported, not NaN
    assert energy_inside(np.ones((3, 3)), mask) == pytest.approx(mask.mean())  # a flat map scores chance
    with pytest.raises(ValueError, match="same shape"):
        energy_inside(sal, mask[:2])


def test_pointing_game_tolerance():
    mask = np.zeros((32, 32), bool)
    mask[10:14, 10:14] = True
    sal = np.zeros((32, 32))
    sal[12, 12] = 1.0
    assert pointing_hit(sal, mask)
    sal = np.zeros((32, 32))
    sal[12, 16] = 1.0  # 3 pixels right of the mask's edge (column 13)
    assert pointing_hit(sal, mask, tolerance=3)
    assert not pointing_hit(sal, mask, tolerance=2)
    assert not pointing_hit(sal, mask)  # default tolerance at 32 pixels: 1
    sal = np.zeros((32, 32))
    sal[12, 15] = 1.0  # 2 pixels right of the edge: a hit at 2 pixels, a miss at the default
    assert pointing_hit(sal, mask, tolerance=2) and not pointing_hit(sal, mask)
    assert not pointing_hit(np.zeros((32, 32)), mask)  # a blank map points nowhere


def test_default_tolerance_is_the_papers_share_of_the_side():
    """Zhang et al. 2018: 15 pixels on images about 500 pixels a side (VOC07, COCO), so about 1 pixel at 24."""
    assert default_tolerance(500) == 15
    assert default_tolerance(224) == 7
    assert default_tolerance(24) == 1 and default_tolerance(32) == 1
    assert default_tolerance(8) == 1  # never below one pixel


def test_hit_zone_is_the_mask_grown_by_a_disc():
    mask = np.zeros((7, 7), bool)
    mask[3, 3] = True
    assert hit_zone(mask, 0).sum() == 1
    assert hit_zone(mask, 1).sum() == 5  # the 4 direct neighbours; diagonals are sqrt(2) away
    assert hit_zone(mask, 2).sum() == 13  # the disc of radius 2: 1 + 4 + 4 diagonals + 4 at distance 2
    corner = np.zeros((4, 4), bool)
    corner[0, 0] = True
    assert hit_zone(corner, 1).tolist()[0][:3] == [True, True, False] and hit_zone(corner, 1).sum() == 3


def test_randomisation_steps_top_down(tiny_model):
    assert [s for s, _ in randomisation_steps(tiny_model)] == ["fc", "layer3.0", "layer2.0", "layer1.0", "stem"]


@pytest.mark.parametrize("method", ["gradcam", "saliency", "gradcam_pp", "scorecam", "layercam"])
def test_randomisation_curve_falls_and_model_untouched(cifar_batch, method):
    model = build_resnet(depth=14, width=8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    calls = []
    res = cascading_randomisation(model, cifar_batch[0], method=method, progress=lambda d, t: calls.append((d, t)))
    assert res.steps[0] == "original" and res.spearman[0] == 1.0
    assert len(res.steps) == len(res.spearman) == len(res.maps) == 1 + 1 + 6 + 1  # fc, 6 blocks, stem
    assert calls[-1] == (8, 8)
    assert all(np.isfinite(res.spearman))
    # the map must move away from the original as the weights go (Adebayo et al. Fig. 2)
    assert max(res.spearman[1:]) < 0.9
    assert np.mean(res.spearman[-3:]) < 0.5
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert model.training


def test_randomisation_stop_returns_partial(tiny_model, cifar_batch):
    import threading

    stop = threading.Event()
    done = []

    def progress(d, t):
        done.append(d)
        if d == 2:
            stop.set()

    res = cascading_randomisation(tiny_model, cifar_batch[0], progress=progress, stop=stop)
    assert not res.complete and res.steps == ["original", "fc", "layer3.0"]


def test_localisation_with_hand_masks(tiny_model):
    images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    masks = np.zeros((3, 32, 32), bool)
    masks[:, 8:24, 8:24] = True
    res = localisation(tiny_model, images, masks, labels=torch.tensor([0, 1, 2]), method="gradcam")
    assert len(res.energy) == len(res.hits) == 3 and res.complete
    assert res.mean_chance == pytest.approx(0.25)
    exact = localisation(tiny_model, images, masks, labels=torch.tensor([0, 1, 2]), method="gradcam", tolerance=0)
    for i in range(3):  # each score against the map computed here and scored by hand
        m = np.maximum(grad_cam(tiny_model, images[i], None, i).map, 0.0)
        expected = m[8:24, 8:24].sum() / m.sum() if m.sum() > 0 else None
        assert res.energy[i] == pytest.approx(expected)
        peak = np.unravel_index(int(np.argmax(m)), m.shape)
        assert exact.hits[i] == (m.max() > 0 and 8 <= peak[0] < 24 and 8 <= peak[1] < 24)
    assert res.mean_energy == pytest.approx(np.mean([e for e in res.energy if e is not None]))
    assert res.pointing_accuracy >= exact.pointing_accuracy  # a tolerance only adds hits
    with pytest.raises(ValueError, match="masks"):
        localisation(tiny_model, images, masks[:2])
    with pytest.raises(ValueError, match="unknown method"):
        localisation(tiny_model, images, masks, method="lime")


def test_localisation_on_built_in_shapes(tiny_model):
    data = pytest.importorskip("explorer.data.datasets")
    s = data.make_shapes(6, size=32, seed=0)
    masks = s.masks.numpy()
    for m in masks:  # the mask itself is a perfect map; its complement the worst
        assert energy_inside(m.astype(float), m) == 1.0 and pointing_hit(m.astype(float), m)
        assert energy_inside((~m).astype(float), m) == 0.0
    res = localisation(tiny_model, s.images, s.masks, labels=s.labels, method="saliency")
    assert len(res.hits) == 6 and res.no_evidence == 0
    assert res.mean_chance == pytest.approx(masks.mean(), rel=1e-6)
    assert 0.0 < res.mean_energy < 1.0


def _trained_like(depth: int = 8, residual: bool = True):
    """A tiny network whose weights and BN statistics are not those of any initialisation."""
    model = build_resnet(depth=depth, width=8, residual=residual, seed=0)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if t.is_floating_point():
                t.add_(0.3 * torch.randn(t.shape, generator=g))
                if name.endswith("running_var"):
                    t.abs_().add_(0.1)
    return model


def test_cascade_uses_the_models_own_initialiser_and_recomputes_bn(cifar_batch):
    from explorer.interpret.trust import randomise_cascade

    model = _trained_like()
    work = copy.deepcopy(model).eval()
    fresh = build_resnet(model.config, seed=7)
    calib = torch.randn(6, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    steps = randomise_cascade(work, calib, seed=7)
    assert next(steps) == "fc"
    assert torch.equal(work.fc.weight, fresh.fc.weight)
    assert torch.equal(work.layer3[0].conv1.weight, model.layer3[0].conv1.weight)  # not yet
    assert next(steps) == "layer3.0"
    block, ref = work.layer3[0], fresh.layer3[0]
    for name in ("conv1.weight", "conv2.weight", "bn1.weight", "bn2.bias"):
        assert torch.equal(block.get_parameter(name), ref.get_parameter(name)), name
    # BN statistics come from the batch: bn1's running mean is the mean of conv1's output on it
    seen = {}
    hook = block.register_forward_pre_hook(lambda m, i: seen.setdefault("x", i[0]))
    with torch.no_grad():
        work(calib)
        hook.remove()
        conv_out = block.conv1(seen["x"])
    torch.testing.assert_close(block.bn1.running_mean, conv_out.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(block.bn1.running_var, conv_out.var(dim=(0, 2, 3), unbiased=True), rtol=1e-4, atol=1e-5)
    assert not work.training
    assert [s for s in steps] == ["layer2.0", "layer1.0", "stem"]
    assert torch.equal(work.conv1.weight, fresh.conv1.weight)


@pytest.mark.slow
def test_randomisation_check_guided_gradcam_signed_and_absolute():
    from explorer.interpret.trust import randomisation_check

    model = _trained_like(depth=8)
    cifar_batch = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    checks = randomisation_check(
        model, cifar_batch[0], ("gradcam", "guided_gradcam", "saliency"), calibration=cifar_batch
    )
    assert set(checks) == {"gradcam", "guided_gradcam", "saliency"}
    for res in checks.values():
        assert res.steps == ["original", "fc", "layer3.0", "layer2.0", "layer1.0", "stem"]
        assert res.complete and res.spearman[0] == res.spearman_abs[0] == 1.0
        for i in range(1, len(res.steps)):
            assert res.spearman[i] == pytest.approx(spearman(res.maps[0], res.maps[i]))
            assert res.spearman_abs[i] == pytest.approx(spearman(np.abs(res.maps[0]), np.abs(res.maps[i])))
    assert np.min(checks["guided_gradcam"].maps[0]) < 0 < np.max(checks["guided_gradcam"].maps[0])  # signed
    assert checks["gradcam"].spearman[-1] < 0.9  # Grad-CAM moves once the weights are gone
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    with pytest.raises(ValueError, match="unknown"):
        randomisation_check(model, cifar_batch[0], ("lime",))


def test_randomisation_methods_figure_one_panel_per_network():
    from explorer.charts.attribution import randomisation_methods_figure
    from explorer.interpret.trust import RandomisationResult

    def res(method):
        return RandomisationResult(
            method, ["original", "fc", "stem"], [1, 0.5, 0.1], [1, 0.6, 0.3], [1] * 3, [1] * 3, []
        )

    fig = randomisation_methods_figure(
        {
            "ResNet-8": {"gradcam": res("gradcam"), "guided_gradcam": res("guided_gradcam")},
            "Plain-8": {"gradcam": res("gradcam")},
        }
    )
    names = [t.name for t in fig.data]
    assert names.count("Guided Grad-CAM") == 1 and "Guided Grad-CAM (absolute)" in names and len(fig.data) == 6
    assert [t.showlegend for t in fig.data] == [True] * 4 + [False] * 2  # one legend entry per line kind
    assert list(fig.data[1].y) == [1, 0.6, 0.3] and fig.data[1].line.dash == "dot"
