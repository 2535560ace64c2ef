"""The gradient by path length (Veit et al. 2016, section 5) against exhaustive enumeration on an 8-layer network."""

import itertools
from math import comb

import pytest
import torch
import torch.nn.functional as F

from explorer.interpret.gradients import calibrate_bn, shapes_batch
from explorer.interpret.paths import PathProbe, effective_range, path_lengths, plain_path
from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet

VARIANTS = {
    "2015-A": ResNetConfig("cifar", 8, width=8),
    "2015-B": ResNetConfig("cifar", 8, width=8, shortcut="B"),
    "2016-A": ResNetConfig("cifar", 8, width=8, preact=True),
}


@pytest.fixture(scope="module")
def batch():
    return shapes_batch(8, size=16, seed=1)


def _net(config, batch):
    return calibrate_bn(build_resnet(config, seed=0), batch[0])


def _ordinary_gradient(model, x, y):
    """d(sum of cross-entropies)/d(first block's input), with no gate anywhere: the reference."""
    seen = {}

    def leaf(module, args):
        seen["x"] = args[0].detach().requires_grad_(True)
        return (seen["x"],)

    handle = model.layer1[0].register_forward_pre_hook(leaf)
    try:
        loss = F.cross_entropy(model(x), y, reduction="sum")
    finally:
        handle.remove()
    return torch.autograd.grad(loss, seen["x"])[0]


def _all_masks(n: int, images: int) -> list[torch.Tensor]:
    return [
        torch.tensor(bits, dtype=torch.float32).expand(images, n).clone()
        for bits in itertools.product((0, 1), repeat=n)
    ]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_paths_of_every_mask_add_up_to_the_ordinary_gradient(variant, batch):
    # The backward pass is linear in the gradient it carries, and the gates split each addition's gradient into its
    # two summands, so the 2^n path gradients sum to the whole, given the forward's ReLU pattern (2015 block
    # included); measured: the largest difference is 3e-7 to 6e-7 of the largest entry, float rounding.
    x, y = batch
    model = _net(VARIANTS[variant], batch)
    probe = PathProbe(model, x, y)
    assert probe.blocks == 3
    total = sum(probe.gradient(m) for m in _all_masks(3, len(x)))
    reference = _ordinary_gradient(model, x, y)
    assert torch.allclose(probe.gradient(None), reference, rtol=0, atol=1e-6 * float(reference.abs().max()))
    assert float((total - reference).abs().max()) < 1e-5 * float(reference.abs().max())
    # and the split is not trivial: no single path carries it all
    assert all(float((probe.gradient(m) - reference).abs().max()) > 1e-3 for m in _all_masks(3, len(x)))


def test_sampled_means_agree_with_the_exhaustive_ones(batch):
    x, y = batch
    model = _net(VARIANTS["2015-A"], batch)
    probe = PathProbe(model, x, y)
    by_k = {k: [] for k in range(4)}
    for m in _all_masks(3, len(x)):
        by_k[int(m[0].sum())].append(probe.gradient(m).flatten(1).norm(dim=1))
    exact = [float(torch.cat(v).mean()) for _, v in sorted(by_k.items())]  # every path, every image
    result = path_lengths(model, x.repeat(8, 1, 1, 1), y.repeat(8), samples=150, seed=0, batch=64)  # each image 8 times
    assert result.paths == [1, 3, 3, 1] and result.count == [150] * 4
    for k in range(4):
        assert abs(result.mean[k] - exact[k]) < 4 * result.se[k], (k, result.mean[k], exact[k], result.se[k])
    # lengths 0 and 3 are single paths: only the images vary, so the sample mean is the exhaustive one's
    assert result.mean[0] == pytest.approx(exact[0], rel=0.1) and result.se[1] > 0


def test_same_seed_same_numbers_and_the_contract(batch):
    x, y = batch
    model = _net(VARIANTS["2016-A"], batch)
    a = path_lengths(model, x, y, samples=6, seed=3, batch=8, rounds=2)
    b = path_lengths(model, x, y, samples=6, seed=3, batch=8, rounds=2)
    c = path_lengths(model, x, y, samples=6, seed=4, batch=8, rounds=2)
    assert a.to_dict() == b.to_dict() and a.mean != c.mean
    d = a.to_dict()
    assert d["blocks"] == 3 and d["samples"] == 6 and d["seed"] == 3
    assert [r["paths"] for r in d["lengths"]] == [comb(3, k) for k in range(4)]
    assert sum(r["total"] for r in d["lengths"]) == pytest.approx(1.0)
    lo, hi = d["effective_range"]
    assert sum(r["total"] for r in d["lengths"][lo : hi + 1]) >= 0.9


def test_a_target_error_measures_the_effective_range_until_it_is_met_and_keeps_the_first_round(batch):
    """target_se: the first round is the uniform run's; then only lengths in the effective range get more, until
    each one's standard error is under the target (or at the cap); the same seed gives the same numbers."""
    x, y = batch
    model = _net(ResNetConfig("cifar", 14, width=8), batch)  # 6 blocks
    uniform = path_lengths(model, x, y, samples=6, seed=2, batch=8)
    seen = []
    a = path_lengths(model, x, y, samples=6, seed=2, batch=8, target_se=0.05, progress=lambda d, t: seen.append(d))
    b = path_lengths(model, x, y, samples=6, seed=2, batch=8, target_se=0.05)
    assert a.to_dict() == b.to_dict() and seen == list(range(1, len(seen) + 1))
    lo, hi = a.effective_range
    assert max(a.count) > 6, "a 5% target from 6 measurements needs more"
    for k in range(lo, hi + 1):
        assert a.se[k] <= 0.05 * a.mean[k] or a.count[k] == 2048
    assert sum(a.count) < max(a.count) * (a.blocks + 1), "the lengths outside the range were not all measured as often"
    assert [a.mean[k] for k in range(a.blocks + 1) if a.count[k] == 6] == [
        uniform.mean[k] for k in range(a.blocks + 1) if a.count[k] == 6
    ], "the first round is the uniform run's"
    capped = path_lengths(model, x, y, samples=6, seed=2, batch=8, target_se=1e-6, most=40)
    assert max(capped.count) == 40


def test_a_plain_network_is_refused_and_its_one_path_measured(batch):
    x, y = batch
    plain = _net(ResNetConfig("cifar", 8, width=8, residual=False), batch)
    with pytest.raises(ValueError, match="no residual blocks"):
        path_lengths(plain, x, y, samples=2)
    one = plain_path(plain, x, y)
    assert one.total == [0.0, 0.0, 0.0, 1.0] and one.effective_range == (3, 3)
    assert one.mean[3] == pytest.approx(float(_ordinary_gradient(plain, x, y).flatten(1).norm(dim=1).mean()), rel=1e-5)


def test_the_model_is_left_as_it_was(batch):
    x, y = batch
    model = build_resnet(VARIANTS["2015-A"], seed=0).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    path_lengths(model, x, y, samples=2, batch=8)
    assert model.training and all(p.requires_grad and p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_effective_range_is_the_shortest_window_holding_90_percent():
    assert effective_range([0.0, 0.05, 0.5, 0.4, 0.05]) == (2, 3)
    assert effective_range([0.02, 0.03, 0.3, 0.3, 0.35, 0.0]) == (2, 4)
    assert effective_range([0.1, 0.1, 0.3, 0.3, 0.2]) == (1, 4)
    assert effective_range([0.05, 0.5, 0.4, 0.05]) == (1, 2)
