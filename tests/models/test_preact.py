"""The 2016 pre-activation networks (He et al. 2016, "Identity Mappings in Deep Residual Networks")."""

import json

import pytest
import torch

from explorer.interpret.gradient_results import first_last_ratios
from explorer.interpret.gradients import depth_sweep
from explorer.models.config import ResNetConfig, replace_config
from explorer.models.preact import PreActBasicBlock, PreActBottleneck
from explorer.models.resnet import build_resnet


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# He et al. 2016, Table 3: pre-activation ResNet-110 1.7M, ResNet-164 1.7M, ResNet-1001 10.2M
@pytest.mark.parametrize(
    "depth,block,millions", [(110, "basic", 1.7), (164, "bottleneck", 1.7), (1001, "bottleneck", 10.2)]
)
def test_parameter_counts_match_the_paper(depth, block, millions):
    model = build_resnet(ResNetConfig(depth=depth, block=block, preact=True))
    assert n_params(model) / 1e6 == pytest.approx(millions, rel=0.05)


@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("depth,block", [(8, "basic"), (20, "basic"), (11, "bottleneck"), (29, "bottleneck")])
def test_shapes_and_layer_order(depth, block, residual, cifar_batch):
    model = build_resnet(ResNetConfig(depth=depth, block=block, preact=True, residual=residual)).eval()
    with torch.no_grad():
        assert model(cifar_batch).shape == (2, 10)
        assert model.forward_features(cifar_batch).shape == (2, 64 * (4 if block == "bottleneck" else 1), 8, 8)
    kind = PreActBottleneck if block == "bottleneck" else PreActBasicBlock
    assert all(isinstance(b, kind) for _, b in model.blocks())
    convs = [m for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d) and "downsample" not in n]
    assert len(convs) + 1 == depth  # the stem, 2 or 3 convs per block, and fc
    # BN, ReLU, conv ... : the order in which the modules run in one block, no ReLU after the addition
    order = []
    b = model.layer2[-1]
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: order.append(n)) for n, m in b.named_children()]
    with torch.no_grad():
        model(cifar_batch)
    for h in hooks:
        h.remove()
    expected = ["bn1", "relu1", "conv1", "bn2", "relu2", "conv2"]
    if block == "bottleneck":
        expected += ["bn3", "relu3", "conv3"]
    if b.downsample is not None:  # a one-block stage: the projection reads relu1's output, after the branch
        expected.append("downsample")
    assert order == expected
    # the stem is the bare conv; the final BN and ReLU come before the pool
    assert not hasattr(model, "bn1") and isinstance(model.final_bn, torch.nn.BatchNorm2d)


def test_bottleneck_projections_only_where_the_shape_changes():
    model = build_resnet(ResNetConfig(depth=164, block="bottleneck", preact=True))
    projected = [n for n, b in model.blocks() if b.downsample is not None]
    assert projected == ["layer1.0", "layer2.0", "layer3.0"]
    assert isinstance(model.layer1[0].downsample[0], torch.nn.Conv2d)  # option B by default
    assert model.layer1[0].downsample[0].out_channels == 64 and model.fc.in_features == 256


@pytest.mark.parametrize("block,depth", [("basic", 20), ("bottleneck", 20)])
def test_identity_path_is_exact(block, depth, cifar_batch):
    """With every F zeroed, the last block's output is the stem's output through the shortcuts alone."""
    model = build_resnet(ResNetConfig(depth=depth, block=block, preact=True), seed=1).eval()
    with torch.no_grad():
        for _, b in model.blocks():  # F(x) = 0: its last conv is zero
            (b.conv3 if block == "bottleneck" else b.conv2).weight.zero_()
        seen = {}
        last = list(model.blocks())[-1][1]
        h = last.register_forward_hook(lambda m, i, o: seen.update(out=o))
        model(cifar_batch)
        h.remove()
        x = model.conv1(cifar_batch)
        for _, b in model.blocks():
            x = b.shortcut(x)
    assert torch.equal(seen["out"], x)
    # the identity blocks pass x through untouched: the output of the last stage's second block is its input
    with torch.no_grad():
        x3 = model.layer3[0](model.layer2(model.layer1(model.conv1(cifar_batch))))
        assert torch.equal(model.layer3[1](x3), x3)


def test_plain_twin_has_no_shortcut_parameters_and_shares_weights():
    res = build_resnet(ResNetConfig(depth=29, block="bottleneck", preact=True), seed=3)
    plain = build_resnet(ResNetConfig(depth=29, block="bottleneck", preact=True, residual=False), seed=3)
    r, p = res.state_dict(), plain.state_dict()
    assert all(b.downsample is None for _, b in plain.blocks())
    assert set(r) - set(p) == {k for k in r if ".downsample." in k} != set()
    assert n_params(res) - n_params(plain) == sum(v.numel() for k, v in res.named_parameters() if "downsample" in k)
    for k in p:
        assert torch.equal(r[k], p[k]), k


def test_switches_fade_and_bypass(cifar_batch):
    res = build_resnet(ResNetConfig(depth=20, preact=True), seed=0).eval()
    plain = build_resnet(ResNetConfig(depth=20, preact=True, residual=False), seed=0).eval()
    with torch.no_grad():
        full = res(cifar_batch)
        res.set_shortcut_scale(0.0)  # s = 0 everywhere: the pre-activation plain twin (same weights)
        torch.testing.assert_close(res(cifar_batch), plain(cifar_batch))
        res.set_shortcut_scale(1.0)
        res.set_bypass(["layer2.1"])
        x = res.layer2[0](res.layer1(res.conv1(cifar_batch)))
        assert torch.equal(res.layer2[1](x), x)  # bypassed: the identity alone, no ReLU after it
        assert not torch.allclose(res(cifar_batch), full)
        res.set_bypass([])
        torch.testing.assert_close(res(cifar_batch), full)


def test_every_relu_runs_once_in_a_projection_block(cifar_batch):
    model = build_resnet(ResNetConfig(depth=11, block="bottleneck", preact=True))
    calls = {}
    hooks = [
        m.register_forward_hook(lambda m, i, o, n=n: calls.update({n: calls.get(n, 0) + 1}))
        for n, m in model.named_modules()
        if isinstance(m, torch.nn.ReLU)
    ]
    model(cifar_batch)
    for h in hooks:
        h.remove()
    assert set(calls.values()) == {1} and "layer2.0.relu1" in calls and "final_relu" in calls


def test_zero_init_residual_zeroes_f():
    model = build_resnet(ResNetConfig(depth=20, preact=True, zero_init_residual=True)).eval()
    x = torch.randn(2, 16, 32, 32)
    with torch.no_grad():
        assert float(model.layer1[0].branch(x).abs().max()) == 0.0


@pytest.mark.parametrize(
    "depth,block,fits",
    [(100, "bottleneck", "92, 101"), (100, "basic", "98, 104"), (21, "basic", "20, 26")],
)
def test_a_depth_that_does_not_fit_names_the_ones_that_do(depth, block, fits):
    with pytest.raises(ValueError, match=f"nearest: {fits}"):
        ResNetConfig(depth=depth, block=block)


def test_imagenet_preact_and_wrong_block_are_refused():
    with pytest.raises(ValueError, match="cifar family only"):
        ResNetConfig("imagenet", 50, preact=True)
    with pytest.raises(ValueError, match="bottleneck blocks"):
        ResNetConfig("imagenet", 50, block="basic")


def test_old_configs_load_with_2015_defaults_and_replace_rederives():
    old = ResNetConfig(**{"family": "cifar", "depth": 20, "residual": True, "shortcut": "A", "width": 16})
    assert (old.preact, old.block) == (False, "basic")
    assert list(build_resnet(old).state_dict())[:2] == ["conv1.weight", "bn1.weight"]
    b = replace_config(old, depth=164, block="bottleneck")
    assert (b.block, b.shortcut) == ("bottleneck", "B")
    i = replace_config(ResNetConfig("imagenet", 18), depth=50)
    assert i.block == "bottleneck"
    assert ResNetConfig(depth=56, preact=True).name == "ResNet-56 (pre-act)"
    assert ResNetConfig(depth=56, preact=True).twin().name == "Plain-56 (pre-act)"


def test_gradient_sweep_measures_preact_nets():
    """The first/last gradient ratio of pre-activation nets at initialisation is measured, finite and positive."""
    out = depth_sweep(depths=(8, 20), residual=(True, False), preact=(False, True), batch=16)
    rows = first_last_ratios(out)
    assert [(r["depth"], r["residual"], r["preact"]) for r in rows][:4] == [
        (8, True, False),
        (8, False, False),
        (8, True, True),
        (8, False, True),
    ]
    assert all(0 < r["ratio"] < float("inf") for r in rows)
    assert {r["name"] for r in rows} >= {"ResNet-20 (pre-act)", "Plain-20 (pre-act)"}


def test_cli_summary_and_a_depth_that_fits_neither(capsys):
    from explorer.cli.parser import main

    assert main(["summary", "--family", "cifar", "--depth", "164", "--block", "bottleneck", "--preact", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["name"] == "ResNet-164 (pre-act)" and s["params"] == 1_704_154
    assert main(["summary", "--depth", "100", "--block", "bottleneck"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "9n+2" in err and "164, 1001" in err and "Traceback" not in err


def test_without_additions_the_two_orders_are_one_network(cifar_batch):
    """conv, BN, ReLU, conv, BN, ReLU ... and BN, ReLU, conv, BN, ReLU, conv ... are the same chain once the
    additions are gone: the 2015 and 2016 plain twins (one seed) compute the same logits."""
    old = build_resnet(ResNetConfig(depth=20, residual=False), seed=4)
    new = build_resnet(ResNetConfig(depth=20, residual=False, preact=True), seed=4)
    torch.testing.assert_close(old(cifar_batch), new(cifar_batch))
    res_old = build_resnet(ResNetConfig(depth=20), seed=4)
    res_new = build_resnet(ResNetConfig(depth=20, preact=True), seed=4)
    assert not torch.allclose(res_old(cifar_batch), res_new(cifar_batch))


def test_inside_a_preact_block_the_output_is_the_sum(cifar_batch):
    from explorer.charts.inside import residual_figure
    from explorer.interpret.probes import residual_decomposition, response_layers

    model = build_resnet(ResNetConfig(depth=20, preact=True), seed=0)
    for name in ("layer1.1", "layer2.0"):
        d = residual_decomposition(model, name, cifar_batch[0])
        assert d["preact"] is True
        torch.testing.assert_close(torch.from_numpy(d["out"]), torch.from_numpy(d["sum"]))
    titles = [a.text for a in residual_figure(d).layout.annotations]
    assert not any("relu" in t for t in titles) and any("F(x) + shortcut" in t for t in titles)
    names = response_layers(model)
    assert names[:2] == ["layer1.0.conv1", "layer1.0.conv2"] and len(names) == 18


def test_cli_train_flags_name_the_2016_nets():
    from explorer.cli.networks import config_from_args
    from explorer.cli.parser import build_parser

    args = build_parser().parse_args(
        ["train", "--depth", "164", "--block", "bottleneck", "--preact", "--plain-and-residual"]
    )
    config = config_from_args(args, 164)
    assert (config.preact, config.block, config.shortcut) == (True, "bottleneck", "B")
    assert replace_config(config, residual=False).name == "Plain-164 (pre-act)"
