"""Looking inside a network: activation capture, feature maps and a residual block taken apart.

Every hook lives in a context manager that removes it in ``finally``; captured tensors are detached
clones; every view puts ``model.training`` back and changes no parameter, so a cached model shared
between sessions is safe. The residual decomposition follows He et al. 2015, Fig. 7: the branch F(x)
of a trained residual block is a small correction to its input x.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explorer.models import ResidualBlock


def _resolve(model: nn.Module, names: Sequence[str]) -> list[nn.Module]:
    """model.get_submodule for each name; a ValueError that lists valid names for unknown ones."""
    modules = []
    for name in names:
        try:
            modules.append(model.get_submodule(name))
        except AttributeError:
            valid = [n for n, _ in model.named_modules() if n]
            shown = ", ".join(valid[:40]) + (f", ... ({len(valid)} in all)" if len(valid) > 40 else "")
            raise ValueError(f"no layer named {name!r}; layers are: {shown}") from None
    return modules


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """model.eval() inside the block; every module's own training flag restored afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, flag in flags:
            m.training = flag


@contextmanager
def forward_hooks(model: nn.Module, hooks: dict[str, Callable], pre: bool = False) -> Iterator[None]:
    """Register ``hooks[name]`` on each named submodule; all removed in ``finally``."""
    handles = []
    try:
        for module, hook in zip(_resolve(model, list(hooks)), hooks.values(), strict=True):
            register = module.register_forward_pre_hook if pre else module.register_forward_hook
            handles.append(register(hook))
        yield
    finally:
        for h in handles:
            h.remove()


@contextmanager
def record_activations(model: nn.Module, names: Sequence[str]) -> Iterator[dict[str, torch.Tensor]]:
    """Capture the outputs of the named submodules during the forward passes inside the ``with``.

        with record_activations(model, ["layer1.0", "layer3"]) as acts:
            logits = model(x)
        acts["layer1.0"]  # (B, C, H, W), detached clone of the last call's output

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    acts: dict[str, torch.Tensor] = {}

    def make(name: str) -> Callable:
        def hook(module, inputs, output):
            if isinstance(output, torch.Tensor):
                acts[name] = output.detach().clone()

        return hook

    with forward_hooks(model, {n: make(n) for n in names}):
        yield acts


def _as_batch(image: torch.Tensor) -> torch.Tensor:
    if image.ndim == 3:
        image = image.unsqueeze(0)
    if image.ndim != 4:
        raise ValueError(f"image must be (C, H, W) or (B, C, H, W), got shape {tuple(image.shape)}")
    return image


def _device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@dataclass
class FeatureMaps:
    """The k most active channels of one layer for one image, and statistics of every channel.

    ``maps`` (k, h, w) float32; ``channels`` (k,) their indices, most active first; ``mean``, ``std``,
    ``max``, ``active`` (C,) per channel (``active`` = fraction of positions > 0); ``shape`` = (C, h, w).
    "Most active" ranks channels by their mean positive activation.
    """

    layer: str
    maps: np.ndarray
    channels: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    max: np.ndarray
    active: np.ndarray
    shape: tuple[int, ...]


def summarize_activation(layer: str, a: torch.Tensor, k: int = 16) -> FeatureMaps:
    """FeatureMaps from one image's activation (C, H, W), (C,) or (C, 1, 1)."""
    a = a.detach().float()
    if a.ndim == 1:
        a = a[:, None, None]
    if a.ndim != 3:
        raise ValueError(f"layer {layer!r} gives shape {tuple(a.shape)}, not a (C, H, W) feature map")
    flat = a.flatten(1)  # (C, H*W)
    score = flat.clamp(min=0).mean(1)
    k = min(k, a.shape[0])
    order = torch.topk(score, k).indices
    return FeatureMaps(
        layer=layer,
        maps=a[order].cpu().numpy().copy(),
        channels=order.cpu().numpy(),
        mean=flat.mean(1).cpu().numpy(),
        std=flat.std(1, correction=0).cpu().numpy(),
        max=flat.amax(1).cpu().numpy(),
        active=(flat > 0).float().mean(1).cpu().numpy(),
        shape=tuple(a.shape),
    )


@torch.no_grad()
def all_feature_maps(
    model: nn.Module, image: torch.Tensor, layers: Sequence[str] | None = None, k: int = 16
) -> dict[str, FeatureMaps]:
    """Feature maps of many layers from ONE forward pass (eval mode, model's mode restored).

    Args:
        image: (C, H, W) or (1, C, H, W); only the first image is summarised.
        layers: default ``feature_layers(model)`` (stem output and every block).
    Returns:
        layer name -> FeatureMaps, in forward order.
    """
    layers = list(layers) if layers is not None else feature_layers(model)
    out: dict[str, FeatureMaps] = {}

    def make(name: str) -> Callable:
        def hook(module, inputs, output):  # reduce inside the hook: no clone of every activation is kept
            if isinstance(output, torch.Tensor):
                out[name] = summarize_activation(name, output[0], k)

        return hook

    x = _as_batch(image).to(_device(model))
    with eval_mode(model), forward_hooks(model, {n: make(n) for n in layers}):
        model(x)
    return out


def feature_maps(model: nn.Module, layer: str, image: torch.Tensor, k: int = 16) -> FeatureMaps:
    """The k most active channels of ``layer`` for ``image`` (first image of a batch), with per-channel stats."""
    return all_feature_maps(model, image, [layer], k)[layer]


def feature_layers(model: nn.Module) -> list[str]:
    """Layers worth a feature-map view: the stem's output and every residual block, in forward order."""
    names = ["relu"] if hasattr(model, "relu") else []
    if hasattr(model, "blocks"):
        names += [n for n, _ in model.blocks()]
    return names


def _norm(t: torch.Tensor | None) -> float | None:
    return None if t is None else float(t.norm())


@torch.no_grad()
def residual_decomposition(model: nn.Module, block_name: str, image: torch.Tensor) -> dict:
    """A block's input x, branch F(x), shortcut, sum and post-ReLU output for one image (eval mode).

    Returns a dict with numpy arrays of the first image, each (C, H, W):
        ``x`` (the block's input), ``branch`` F(x), ``shortcut`` (identity, option A or projection of x,
        times the shortcut scale; None for a plain block), ``sum`` F(x) + shortcut (None for plain),
        ``out`` relu(...) as the network computes it;
    and ``norms`` / ``stds`` (name -> float or None), ``ratio`` = ||F(x)|| / ||shortcut|| (None for plain),
    ``residual``, ``block``, ``note`` (plain-English remarks for the page).
    """
    block = _resolve(model, [block_name])[0]
    if not isinstance(block, ResidualBlock):
        raise ValueError(f"{block_name!r} is not a residual block; blocks are {[n for n, _ in model.blocks()]}")
    seen: dict[str, torch.Tensor] = {}

    def pre(module, inputs):
        seen["x"] = inputs[0].detach().clone()

    def post(module, inputs, output):
        seen["out"] = output.detach().clone()

    x = _as_batch(image)[:1].to(_device(model))
    with eval_mode(model), forward_hooks(model, {block_name: pre}, pre=True), forward_hooks(model, {block_name: post}):
        model(x)
        xin = seen["x"]
        branch = block.branch(xin)
        shortcut = total = None
        if block.residual:
            shortcut = block.shortcut(xin) * block.shortcut_scale
            total = branch + shortcut
    notes = []
    if not block.residual:
        notes.append("plain block: there is no shortcut, so the output is relu(F(x)) alone")
    if block.bypass:
        notes.append("this block is bypassed: the network skips F(x) and passes only the shortcut on")
    if block.residual and block.downsample is not None:
        notes.append("this block changes shape: the shortcut is a downsampled (projected or padded) x")
    parts = {"x": xin, "branch": branch, "shortcut": shortcut, "sum": total, "out": seen["out"]}
    arrays = {k: (None if v is None else v[0].cpu().numpy().copy()) for k, v in parts.items()}
    norms = {k: _norm(v) for k, v in parts.items()}
    return {
        "block": block_name,
        "residual": block.residual,
        **arrays,
        "norms": norms,
        "stds": {k: (None if v is None else float(v.std())) for k, v in parts.items()},
        "ratio": norms["branch"] / norms["shortcut"] if norms["shortcut"] else None,
        "note": "; ".join(notes),
    }
