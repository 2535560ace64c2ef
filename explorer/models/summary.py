"""Model summary: layers in forward order with output shapes, parameters, multiply-accumulates
(as torch's own ``torch.utils.flop_counter`` counts them) and the receptive field of each stage."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from explorer.models.blocks import make_shortcut
from explorer.models.config import ResNetConfig
from explorer.models.resnet import ResNet, eval_mode, resnet_structure
from explorer.models.summary_records import LayerInfo, Summary, human


def default_input_size(model: ResNet) -> int:
    """224 for the ImageNet stem, 32 for the small one."""
    return 224 if model.config.stem == "imagenet" else 32


def is_named_layer(name: str, module: nn.Module) -> bool:
    """Layers the explorer addresses by name: convs, BNs, pools, blocks, stages, shortcuts, fc."""
    if not name or isinstance(module, nn.ReLU):
        return False
    parent = name.rsplit(".", 1)[0] if "." in name else ""
    # the conv and BN inside a projection shortcut are reached through 'downsample'
    return not parent.endswith("downsample")


def layer_table(model: ResNet, input_size: int | None = None) -> list[LayerInfo]:
    """Every named layer in forward order with its output shape for one image of ``input_size``.

    MACs are filled only for leaf layers that compute them (convs, fc); blocks and stages carry
    the sum of their children.
    """
    input_size = input_size or default_input_size(model)
    order: list[str] = []
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    modules = {n: m for n, m in model.named_modules() if is_named_layer(n, m)}

    def pre_hook(name):
        def hook(module, args):
            if name not in order:
                order.append(name)

        return hook

    def post_hook(name):
        def hook(module, args, output):
            shapes[name] = tuple(output.shape[1:])

        return hook

    try:
        for name, m in modules.items():
            handles.append(m.register_forward_pre_hook(pre_hook(name)))
            handles.append(m.register_forward_hook(post_hook(name)))
        macs = count_macs(model, input_size)
    finally:
        for h in handles:
            h.remove()
    # a layer's own MACs and parameters: those of every conv, linear and parameter at or below it, summed in one
    # pass each (per layer, a walk of all of them was quadratic in the depth: a third of a ResNet-110 summary)
    own_macs = _sum_up(macs.items(), modules)
    own_params = _sum_up(((n.rsplit(".", 1)[0], p.numel()) for n, p in model.named_parameters()), modules)
    return [
        LayerInfo(
            name=name,
            kind=type(modules[name]).__name__,
            out_shape=shapes[name],
            params=own_params.get(name, 0),
            macs=own_macs.get(name, 0),
        )
        for name in order
    ]


def _prefixes(name: str) -> list[str]:
    """'layer1.0.conv1' -> ['layer1', 'layer1.0', 'layer1.0.conv1']."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _sum_up(values, layers) -> dict[str, int]:
    """For each name of ``layers``, the sum of the ``(module name, value)`` pairs at or below it."""
    totals: dict[str, int] = {}
    for module, value in values:
        for name in _prefixes(module):
            if name in layers:
                totals[name] = totals.get(name, 0) + value
    return totals


def _count(model: nn.Module, input_size: int) -> FlopCounterMode:
    """Run one image through ``model`` under torch's FLOP counter, in eval mode, restoring the mode."""
    cfg = getattr(model, "config", None)
    device = next(model.parameters()).device
    x = torch.zeros(1, cfg.in_channels if cfg is not None else 3, input_size, input_size, device=device)
    with eval_mode(model), torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter


def _no_images(model: nn.Module, input_size: int) -> torch.Tensor:
    """A batch of zero images: the forward pass yields every layer's output shape and computes nothing."""
    cfg = getattr(model, "config", None)
    device = next(model.parameters()).device
    return torch.zeros(0, cfg.in_channels if cfg is not None else 3, input_size, input_size, device=device)


def count_macs(model: nn.Module, input_size: int) -> dict[str, int]:
    """Multiply-accumulates per conv and linear layer for one image: exactly what torch's FLOP counter
    counts (its FLOPs / 2, checked against it in the tests), read from each layer's output shape.

    Counting by hooks takes milliseconds; FlopCounterMode decomposes every other op (batch norm included)
    in Python, about a second per network on 2 cores, which the Learn page paid eleven times at start-up.
    """
    macs: dict[str, int] = {}

    def make(name: str):
        def hook(module, inputs, output):
            per_output = module.in_features if isinstance(module, nn.Linear) else module.weight[0].numel()
            macs[name] = math.prod(output.shape[1:]) * per_output  # one image; conv: C_in / groups * kh * kw

        return hook

    layers = {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)}
    x = _no_images(model, input_size)
    handles = [m.register_forward_hook(make(n)) for n, m in layers.items()]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return macs


def total_macs(model: nn.Module, input_size: int) -> int:
    """All multiply-accumulates of one forward pass of one image."""
    return _count(model, input_size).get_total_flops() // 2


def receptive_fields(model: ResNet) -> dict[str, int]:
    """Theoretical receptive field (pixels) at the output of the stem and of each stage.

    Follows the longest path (through the residual branches): rf += (k - 1) * jump; jump *= stride.
    """
    rf, jump = 1, 1

    def step(k: int, s: int) -> None:
        nonlocal rf, jump
        rf += (k - 1) * jump
        jump *= s

    step(model.conv1.kernel_size[0], model.conv1.stride[0])
    if model.config.stem == "imagenet":
        step(model.maxpool.kernel_size, model.maxpool.stride)
    out = {"stem": rf}
    for stage in model.stages:
        for block in getattr(model, stage):
            for m in block.children():
                if isinstance(m, nn.Conv2d):
                    step(m.kernel_size[0], m.stride[0])
        out[stage] = rf
    return out


def summarize(model: ResNet, input_size: int | None = None) -> Summary:
    """The whole summary of ``model`` for square inputs of ``input_size`` pixels."""
    input_size = input_size or default_input_size(model)
    layers = layer_table(model, input_size)
    parents = {p for r in layers for p in _prefixes(r.name)[:-1]}
    leaf_macs = sum(r.macs for r in layers if r.name not in parents)
    return Summary(
        name=model.config.name,
        input_size=input_size,
        params=sum(p.numel() for p in model.parameters()),
        macs=leaf_macs,
        layers=layers,
        receptive_field=receptive_fields(model),
    )


def summarize_config(config: ResNetConfig, input_size: int | None = None) -> Summary:
    """The summary of the network ``config`` names, built without initialising weights and run on no images."""
    # uninitialised CPU weights (no init, no copy): the shapes pass needs kernels, not values, and meta-device
    # ops run as Python decompositions that first import torch._dynamo (seconds at the app's start)
    return summarize(resnet_structure(config, "cpu"), input_size)


def structure_and_summary(config: ResNetConfig, input_size: int | None = None) -> tuple[ResNet, Summary]:
    """``config``'s modules on the meta device (``models.resnet_structure``) and its summary, from one build:
    the summary's shapes pass on uninitialised CPU weights, which then move to the meta device. Building on the
    CPU and moving is quicker than building under torch's meta device context (its Python dispatch of every call)."""
    model = resnet_structure(config, "cpu")
    summary = summarize(model, input_size)
    return model.to("meta"), summary


def twin_params(model: ResNet) -> int:
    """The parameter count of ``model``'s twin (the residual switch flipped), from ``model``'s own modules.

    Twins differ only where a block changes shape: there the residual block has its shortcut
    (``blocks.make_shortcut``: option A has no parameters, option B a 1x1 conv and a BN) and the plain one none.
    """
    total = sum(p.numel() for p in model.parameters())
    for _, block in model.blocks():
        if block.same_shape:
            continue
        if block.residual:
            total -= sum(p.numel() for p in block.downsample.parameters())
            continue
        convs = [m for m in block.children() if isinstance(m, nn.Conv2d)]  # the branch's, in order
        stride = max(c.stride[0] for c in convs)
        with torch.device("meta"):
            shortcut = make_shortcut(model.config.shortcut, convs[0].in_channels, convs[-1].out_channels, stride)
        total += sum(p.numel() for p in shortcut.parameters())
    return total


def format_summary(s: Summary) -> str:
    """A plain-text table for the terminal."""
    lines = [
        f"{s.name}  input {s.input_size}x{s.input_size}  params {s.params:,}  MACs {s.macs:,} ({human(s.macs)})",
        "receptive field: " + ", ".join(f"{k} {v}px" for k, v in s.receptive_field.items()),
        "",
        f"{'layer':<24}{'type':<14}{'output':<18}{'params':>12}{'MACs':>16}",
    ]
    for r in s.layers:
        shape = "x".join(map(str, r.out_shape))
        lines.append(f"{r.name:<24}{r.kind:<14}{shape:<18}{r.params:>12,}{r.macs:>16,}")
    return "\n".join(lines)
