"""Summary: torch's FLOP counter, per-layer sums, receptive fields."""

import pytest
import torch
import torchvision

from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet
from explorer.models.summary import count_macs, summarize, total_macs


def test_resnet50_totals_match_torchvision():
    ours = build_resnet(ResNetConfig("imagenet", 50))
    s = summarize(ours)
    ref = torchvision.models.resnet50(weights=None)
    assert s.params == sum(p.numel() for p in ref.parameters()) == 25_557_032
    assert s.macs == total_macs(ref, 224)
    assert s.macs / 1e9 == pytest.approx(4.09, abs=0.01)  # torchvision's documented 4.09 GFLOPS (MACs)


@pytest.mark.parametrize("family,depth,residual", [("cifar", 20, True), ("cifar", 32, False), ("imagenet", 18, True)])
def test_per_layer_macs_sum_to_total(family, depth, residual):
    model = build_resnet(ResNetConfig(family, depth, residual))
    s = summarize(model, 64 if family == "imagenet" else 32)
    leaves = [r for r in s.layers if not any(o.name.startswith(r.name + ".") for o in s.layers)]
    assert sum(r.macs for r in leaves) == s.macs == total_macs(model, s.input_size)
    assert sum(count_macs(model, s.input_size).values()) == s.macs
    stages = [r for r in s.layers if r.name in ("conv1", "fc") or r.name.startswith("layer") and "." not in r.name]
    assert sum(r.macs for r in stages) == s.macs
    assert sum(r.params for r in stages) + 2 * model.bn1.num_features == s.params


def test_output_shapes_in_table():
    s = summarize(build_resnet(ResNetConfig(depth=20)))
    shapes = {r.name: r.out_shape for r in s.layers}
    assert shapes["conv1"] == (16, 32, 32)
    assert shapes["layer2.0"] == (32, 16, 16)
    assert shapes["layer3"] == (64, 8, 8)
    assert shapes["fc"] == (10,)


def test_receptive_fields_grow_and_match_hand_values():
    rf = summarize(build_resnet(ResNetConfig(depth=20))).receptive_field
    # stem 3; layer1: +6 convs*2 = 15; layer2: first conv stride2 at jump1 (+2), then 5 convs at jump 2 (+20) = 37
    assert rf == {"stem": 3, "layer1": 15, "layer2": 37, "layer3": 81}
    rf50 = summarize(build_resnet(ResNetConfig("imagenet", 50))).receptive_field
    assert rf50["layer4"] == 427  # the commonly quoted ResNet-50 theoretical receptive field


def test_summary_restores_training_mode():
    model = build_resnet(ResNetConfig(depth=8))
    summarize(model)
    assert model.training
    assert all(len(m._forward_hooks) == 0 and len(m._forward_pre_hooks) == 0 for m in model.modules())
    model.eval()
    summarize(model)
    assert not model.training
    assert torch.equal(model.bn1.running_mean, torch.zeros(16))  # no statistics were updated


@pytest.mark.parametrize("family,depth", [("cifar", 56), ("imagenet", 152)])
def test_summary_on_meta_device_equals_real_summary(family, depth):
    from explorer.models.summary import summarize_config

    cfg = ResNetConfig(family, depth, width=8 if family == "imagenet" else 16)
    assert summarize_config(cfg, 64) == summarize(build_resnet(cfg), 64)


@pytest.mark.parametrize(
    "config", [ResNetConfig("cifar", 20), ResNetConfig("cifar", 14, shortcut="B"), ResNetConfig("imagenet", 18)]
)
def test_hook_counted_macs_equal_torchs_flop_counter(config):
    from torch.utils.flop_counter import FlopCounterMode

    model = build_resnet(config).eval()
    size = 64 if config.family == "imagenet" else 32
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, size, size))
    root = type(model).__name__ + "."
    reference = {
        k[len(root) :]: sum(v.values()) // 2 for k, v in counter.get_flop_counts().items() if k.startswith(root)
    }
    ours = count_macs(model, size)
    assert ours == {k: v for k, v in reference.items() if k in ours}  # every conv and linear layer agrees
    assert sum(ours.values()) == counter.get_total_flops() // 2


@pytest.mark.parametrize("config", [ResNetConfig("cifar", 20, residual=False), ResNetConfig("imagenet", 50)])
def test_summary_from_config_equals_summary_of_built_model(config):
    from explorer.models.summary import summarize_config

    assert summarize_config(config) == summarize(build_resnet(config))


@pytest.mark.parametrize(
    "config",
    [
        ResNetConfig("cifar", 20, shortcut="A"),
        ResNetConfig("cifar", 20, shortcut="B"),
        ResNetConfig("cifar", 32, residual=False, shortcut="B", width=8),
        ResNetConfig("cifar", 20, preact=True, shortcut="B"),
        ResNetConfig("cifar", 14, residual=False, preact=True, shortcut="B"),
        ResNetConfig("cifar", 11, block="bottleneck"),
        ResNetConfig("cifar", 11, block="bottleneck", residual=False, preact=True),
        ResNetConfig("cifar", 11, block="bottleneck", shortcut="A"),
        ResNetConfig("imagenet", 18),
        ResNetConfig("imagenet", 50, residual=False, width=16),
    ],
)
def test_twin_params_from_the_structure_equal_the_built_twins_count(config):
    from explorer.models.resnet import resnet_structure
    from explorer.models.summary import twin_params

    real = sum(p.numel() for p in build_resnet(config.twin()).parameters())
    assert twin_params(resnet_structure(config)) == real
    assert twin_params(build_resnet(config)) == real  # the same from a real network
    if config.shortcut == "B":
        assert real != sum(p.numel() for p in build_resnet(config).parameters())  # the shortcuts are counted


@pytest.mark.parametrize(
    "config",
    [ResNetConfig("cifar", 110, shortcut="B", width=32), ResNetConfig("cifar", 29, block="bottleneck", preact=True)],
)
def test_summary_of_the_structure_equals_the_real_summary_per_layer(config):
    from explorer.models.summary import summarize_config

    real = summarize(build_resnet(config))
    assert summarize_config(config) == real
    layers = {r.name: r for r in real.layers}
    model = build_resnet(config)
    macs = count_macs(model, real.input_size)
    for name, m in model.named_modules():  # every layer's own parameters and MACs, summed the slow way
        if name in layers:
            assert layers[name].params == sum(p.numel() for p in m.parameters()), name
            assert layers[name].macs == sum(v for k, v in macs.items() if k == name or k.startswith(name + "."))


@pytest.mark.parametrize("config", [ResNetConfig("cifar", 20, shortcut="B"), ResNetConfig("imagenet", 18, width=16)])
def test_structure_and_summary_from_one_build(config):
    from explorer.models.summary import structure_and_summary

    structure, summary = structure_and_summary(config)
    real = build_resnet(config)
    assert summary == summarize(real)
    assert structure.config == config
    assert {p.device.type for p in structure.parameters()} | {b.device.type for b in structure.buffers()} == {"meta"}
    shapes = {k: v.shape for k, v in real.state_dict().items()}
    assert {k: v.shape for k, v in structure.state_dict().items()} == shapes
