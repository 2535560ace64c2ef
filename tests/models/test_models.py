"""The model zoo against the paper and against torchvision."""

import pytest
import torch
import torchvision

from explorer.models.config import CIFAR_PRESETS, IMAGENET_BLOCKS, ResNetConfig, replace_config
from explorer.models.resnet import build_resnet
from explorer.models.summary import layer_table


@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("shortcut", ["A", "B"])
@pytest.mark.parametrize("depth", CIFAR_PRESETS)
def test_cifar_presets_build_with_right_shapes(depth, shortcut, residual):
    model = build_resnet(ResNetConfig("cifar", depth, residual, shortcut))
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) + 1 == depth  # 6n 3x3 convs in the stages + the stem ... + fc = 6n+2
    assert model.layer3[-1].conv2.out_channels == 64


# He et al. 2015, Table 6: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M parameters (option A)
@pytest.mark.parametrize("depth,millions", [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)])
def test_cifar_parameter_counts_match_the_paper(depth, millions):
    n = sum(p.numel() for p in build_resnet(ResNetConfig(depth=depth)).parameters())
    assert n / 1e6 == pytest.approx(millions, rel=0.03)


@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("shortcut", ["A", "B"])
@pytest.mark.parametrize("depth", sorted(IMAGENET_BLOCKS))
@pytest.mark.parametrize("stem,size", [("imagenet", 64), ("small", 32)])
def test_imagenet_family_builds_with_right_shapes(depth, shortcut, residual, stem, size):
    cfg = ResNetConfig("imagenet", depth, residual, shortcut, width=8, num_classes=7, stem=stem)
    model = build_resnet(cfg).eval()
    with torch.no_grad():
        feats = model.forward_features(torch.randn(1, 3, size, size))
        out = model(torch.randn(1, 3, size, size))
    assert out.shape == (1, 7)
    expansion = 1 if depth < 50 else 4
    assert feats.shape[1] == 8 * 8 * expansion
    assert feats.shape[-1] == size // (32 if stem == "imagenet" else 8)


@pytest.mark.parametrize("depth", [20, 56])
def test_twins_have_equal_parameters_under_option_a(depth):
    res = build_resnet(ResNetConfig(depth=depth, residual=True), seed=3)
    plain = build_resnet(ResNetConfig(depth=depth, residual=False), seed=3)
    assert sum(p.numel() for p in res.parameters()) == sum(p.numel() for p in plain.parameters())


@pytest.mark.parametrize("family,depth,shortcut", [("cifar", 20, "A"), ("cifar", 20, "B"), ("imagenet", 50, "B")])
def test_twins_share_weights_for_one_seed(family, depth, shortcut):
    res = build_resnet(ResNetConfig(family, depth, True, shortcut, width=8), seed=7)
    plain = build_resnet(ResNetConfig(family, depth, False, shortcut, width=8), seed=7)
    r, p = res.state_dict(), plain.state_dict()
    assert set(p) <= set(r)
    assert set(r) - set(p) == {k for k in r if ".downsample." in k}
    for k in p:
        assert torch.equal(r[k], p[k]), k
    other = build_resnet(ResNetConfig(family, depth, True, shortcut, width=8), seed=8)
    assert not torch.equal(other.state_dict()["conv1.weight"], r["conv1.weight"])


def test_plain_twin_has_no_shortcut_and_differs_in_output(cifar_batch):
    res = build_resnet(ResNetConfig(depth=20), seed=0).eval()
    plain = build_resnet(ResNetConfig(depth=20, residual=False), seed=0).eval()
    assert all(b.downsample is None for _, b in plain.blocks())
    assert not any(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1) for m in plain.modules())
    with torch.no_grad():
        assert not torch.allclose(res(cifar_batch), plain(cifar_batch))


@pytest.mark.parametrize("depth", sorted(IMAGENET_BLOCKS))
def test_torchvision_state_dict_round_trip_and_equal_logits(depth):
    torch.manual_seed(depth)
    ref = getattr(torchvision.models, f"resnet{depth}")(weights=None).eval()
    # randomise BN statistics too, so eval-mode logits depend on every buffer
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
    ours = build_resnet(ResNetConfig("imagenet", depth)).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-4)
    ref.load_state_dict(ours.state_dict(), strict=True)


def test_no_inplace_ops_and_no_shared_relu():
    model = build_resnet(ResNetConfig("imagenet", 50))
    relus = [m for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    assert not any(m.inplace for m in relus)
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.ReLU)]
    assert len(relus) == len(set(map(id, relus))) == len(names)
    # every ReLU runs exactly once per forward pass
    calls = {}
    handles = [
        m.register_forward_hook(lambda m, i, o, n=n: calls.update({n: calls.get(n, 0) + 1}))
        for n, m in zip(names, relus, strict=True)
    ]
    model(torch.randn(1, 3, 64, 64))
    for h in handles:
        h.remove()
    assert calls == {n: 1 for n in names}


@pytest.mark.parametrize("family,depth", [("cifar", 20), ("imagenet", 50)])
def test_every_listed_layer_name_resolves(family, depth):
    model = build_resnet(ResNetConfig(family, depth))
    rows = layer_table(model)
    names = [r.name for r in rows]
    for n in names:
        model.get_submodule(n)
    assert names[:2] == ["conv1", "bn1"] and names[-1] == "fc"
    assert "layer1.0" in names and "layer1.0.conv1" in names and "layer1.0.bn2" in names
    assert names.index("layer1") < names.index("layer1.0") < names.index("layer1.0.conv1") < names.index("layer2")
    if family == "imagenet":
        assert "layer2.0.downsample" in names and "layer4.2.conv3" in names


def test_bypass_and_shortcut_scale_change_output_not_parameters(cifar_batch):
    model = build_resnet(ResNetConfig(depth=20), seed=0).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        base = model(cifar_batch)
        model.set_bypass(["layer2.1"])
        lesioned = model(cifar_batch)
        model.set_bypass([])
        restored = model(cifar_batch)
        model.set_shortcut_scale(0.0)
        s0 = model(cifar_batch)
        model.set_shortcut_scale(0.5)
        s05 = model(cifar_batch)
        model.set_shortcut_scale(1.0)
        s1 = model(cifar_batch)
    assert not torch.allclose(base, lesioned)
    torch.testing.assert_close(base, restored)
    torch.testing.assert_close(base, s1)
    assert not torch.allclose(base, s0) and not torch.allclose(s0, s05)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_shortcut_scale_zero_equals_plain_twin(cifar_batch):
    # with the shortcut faded out, the residual net computes exactly what its plain twin computes
    res = build_resnet(ResNetConfig(depth=20), seed=4).eval()
    plain = build_resnet(ResNetConfig(depth=20, residual=False), seed=4).eval()
    res.set_shortcut_scale(0.0)
    with torch.no_grad():
        torch.testing.assert_close(res(cifar_batch), plain(cifar_batch))


def test_bypassed_block_passes_its_input_through():
    model = build_resnet(ResNetConfig(depth=20), seed=0).eval()
    block = model.get_submodule("layer1.1")
    x = torch.relu(torch.randn(1, 16, 32, 32))
    block.bypass = True
    with torch.no_grad():
        torch.testing.assert_close(block(x), x)


def test_plain_block_that_changes_shape_cannot_be_bypassed():
    plain = build_resnet(ResNetConfig(depth=20, residual=False))
    with pytest.raises(ValueError, match="cannot be bypassed"):
        plain.set_bypass(["layer2.0"])
    plain.set_bypass(["layer2.1"])  # same shape: identity fits
    with pytest.raises(ValueError, match="not residual blocks"):
        plain.set_bypass(["layer9.0"])


def test_zero_init_residual_zeroes_last_bn():
    model = build_resnet(ResNetConfig(depth=20, zero_init_residual=True))
    assert all(float(b.bn2.weight.detach().abs().sum()) == 0 for _, b in model.blocks())
    assert float(model.layer1[0].bn1.weight.sum()) == 16


def test_init_is_kaiming_fan_out():
    model = build_resnet(ResNetConfig("imagenet", 18), seed=0)
    w = model.layer3[0].conv2.weight  # 256 out, 3x3
    assert float(w.std()) == pytest.approx((2 / (256 * 9)) ** 0.5, rel=0.05)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"depth": 21}, "6n\\+2"),
        ({"depth": 2}, "6n\\+2"),
        ({"family": "imagenet", "depth": 20}, "18, 34, 50, 101, 152"),
        ({"family": "vgg"}, "family must be one of"),
        ({"shortcut": "C"}, "shortcut must be one of"),
        ({"width": 0}, "width must be a positive integer"),
        ({"in_channels": -1}, "in_channels"),
        ({"stem": "imagenet"}, "small"),
    ],
)
def test_invalid_configs_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ResNetConfig(**kwargs)


def test_config_defaults_hashing_and_twin():
    c = ResNetConfig()
    assert (c.shortcut, c.width, c.num_classes, c.stem) == ("A", 16, 10, "small")
    i = ResNetConfig("imagenet", 50)
    assert (i.shortcut, i.width, i.num_classes, i.stem, i.block) == ("B", 64, 1000, "imagenet", "bottleneck")
    assert hash(c) == hash(ResNetConfig()) and c == ResNetConfig()
    assert c.twin().residual is False and c.twin().twin() == c
    assert replace_config(c, family="imagenet", depth=18).shortcut == "B"
    assert ResNetConfig(depth=56, residual=False).name == "Plain-56"


def test_grayscale_input():
    model = build_resnet(ResNetConfig(depth=8, in_channels=1)).eval()
    assert model(torch.randn(1, 1, 28, 28)).shape == (1, 10)


def test_largest_cifar_depth_builds():
    model = build_resnet(ResNetConfig(depth=1202, width=4))
    assert len(list(model.blocks())) == 600


def test_eval_mode_restores_every_flag_even_on_error(tiny_model):
    from explorer.models.resnet import block_names, eval_mode

    tiny_model.train()
    tiny_model.layer1.eval()  # a mixed state must come back exactly
    tiny_model.fc.weight.requires_grad_(False)
    before = {n: m.training for n, m in tiny_model.named_modules()}
    grads = {n: p.requires_grad for n, p in tiny_model.named_parameters()}
    with pytest.raises(RuntimeError), eval_mode(tiny_model, freeze=True) as m:
        assert not any(x.training for x in m.modules()) and not any(p.requires_grad for p in m.parameters())
        raise RuntimeError("inside the block")
    assert {n: m.training for n, m in tiny_model.named_modules()} == before
    assert {n: p.requires_grad for n, p in tiny_model.named_parameters()} == grads
    with eval_mode(tiny_model):
        assert tiny_model.conv1.weight.requires_grad  # freeze only when asked
    assert block_names(tiny_model) == ["layer1.0", "layer2.0", "layer3.0"]


@torch.no_grad()
def _former_init_weights(model, seed: int) -> None:
    """init_weights as it was before builds got quicker (out of place, over torch's default fill), kept as the
    reference the shipped checkpoints and assets were made with."""
    from torch import nn

    from explorer.models.blocks import Bottleneck
    from explorer.models.resnet import _generator

    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups
            std = (2.0 / fan_out) ** 0.5
            m.weight.copy_(torch.randn(m.weight.shape, generator=_generator(seed, name)) * std)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
            m.reset_running_stats()
        elif isinstance(m, nn.Linear):
            bound = 1.0 / m.in_features**0.5
            g = _generator(seed, name)
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 2 * bound - bound)
            m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 2 * bound - bound)
    if model.config.zero_init_residual and model.config.residual:
        for _, b in model.blocks():
            if b.preact:
                nn.init.zeros_(b.conv3.weight if hasattr(b, "conv3") else b.conv2.weight)
            else:
                nn.init.zeros_(b.bn3.weight if isinstance(b, Bottleneck) else b.bn2.weight)


FAST_BUILD_CASES = [
    dict(depth=20, residual=True, shortcut="A"),
    dict(depth=20, residual=False, shortcut="A"),
    dict(depth=20, residual=True, shortcut="B"),
    dict(depth=20, residual=False, shortcut="B"),
    dict(depth=20, residual=True, shortcut="B", zero_init_residual=True, width=8),
    dict(depth=110, preact=True, residual=True, shortcut="A"),
    dict(depth=110, preact=True, residual=False, shortcut="A"),
    dict(depth=110, preact=True, residual=True, shortcut="B", zero_init_residual=True),
    dict(depth=110, preact=True, residual=False, shortcut="B"),
    dict(depth=164, preact=True, block="bottleneck", residual=True),
    dict(family="imagenet", depth=50, residual=True, stem="small", num_classes=10),
]


@pytest.mark.parametrize("kwargs", FAST_BUILD_CASES, ids=lambda k: "-".join(map(str, k.values())))
@pytest.mark.parametrize("seed", [0, 7])
def test_build_skipping_default_fill_gives_bit_identical_weights(kwargs, seed):
    """build_resnet skips torch's default fill, which init_weights overwrites, and fills in place: the weights
    are bit for bit those of the former build (torch's fill, then the former init_weights over it)."""
    from explorer.models.resnet import ResNet

    config = ResNetConfig(**kwargs)
    old = ResNet(config)
    _former_init_weights(old, seed)
    new = build_resnet(config, seed=seed)
    a, b = old.state_dict(), new.state_dict()
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k
    assert [p.requires_grad for p in old.parameters()] == [p.requires_grad for p in new.parameters()]


def test_default_fill_is_skipped_only_inside_build_and_only_in_its_thread():
    import threading

    from explorer.models.resnet import _skip_default_init

    def linear():
        torch.manual_seed(3)
        return torch.nn.Linear(8, 4).weight.detach().clone()

    expected = linear()
    build_resnet(depth=8)
    assert torch.equal(linear(), expected)  # outside the block torch's default fill is back
    seen = []
    with _skip_default_init():
        t = threading.Thread(target=lambda: seen.append(linear()))
        t.start()
        t.join()
    assert torch.equal(seen[0], expected)  # another thread is untouched while a build skips the fill


LIKE_CASES = [
    (dict(depth=20, residual=True, shortcut="A"), dict(residual=False)),
    (dict(depth=20, residual=False, shortcut="B", width=8), dict(residual=True)),
    (dict(depth=32, residual=True, shortcut="B", width=4), dict(residual=False)),
    (dict(depth=110, preact=True, residual=False, shortcut="B"), dict(residual=True, zero_init_residual=True)),
    (dict(depth=20, residual=True, zero_init_residual=True, width=8), dict(residual=False)),
    (dict(depth=164, preact=True, block="bottleneck", residual=True, width=4), dict(residual=False)),
    (dict(depth=20, width=8), dict(depth=56, width=16)),  # another depth and width: only what matches is copied
    (dict(family="imagenet", depth=18, width=16, stem="small"), dict(residual=False)),
]


@pytest.mark.parametrize(("kwargs", "other"), LIKE_CASES, ids=lambda k: "-".join(map(str, k.values())))
def test_build_like_the_twin_copies_its_draws_bit_for_bit(kwargs, other, monkeypatch):
    """Layers copied from an unchanged network of the same seed (the twin) are exactly the ones drawn anew, and
    only layers without a same-named, same-shaped counterpart are drawn."""
    from explorer.models import resnet as models

    config = ResNetConfig(**kwargs)
    like = build_resnet(replace_config(config, **other), seed=5)
    fresh = build_resnet(config, seed=5)
    drawn = []
    original = models._generator
    monkeypatch.setattr(models, "_generator", lambda seed, name: drawn.append(name) or original(seed, name))
    new = build_resnet(config, seed=5, like=like)
    a, b = fresh.state_dict(), new.state_dict()
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(
            a[k].view(-1).view(torch.uint8), b[k].view(-1).view(torch.uint8)
        )
    theirs = {n: m for n, m in like.named_modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)}
    expected = [
        n
        for n, m in new.named_modules()
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)
        and (like.config.zero_init_residual or n not in theirs or theirs[n].weight.shape != m.weight.shape)
    ]
    assert drawn == expected
