"""Looking inside a network: activation capture, feature maps and a residual block taken apart.

Every hook lives in a context manager that removes it in ``finally``; captured tensors are detached
clones; every view puts ``model.training`` back and changes no parameter, so a cached model shared
between sessions is safe. The residual decomposition follows He et al. 2015, Fig. 7: the branch F(x)
of a trained residual block is a small correction to its input x.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from explorer.data.base import normalize_images
from explorer.data.datasets import shapes_info
from explorer.data.images import as_batch, load_image, sample_images
from explorer.data.shapes import SHAPE_CLASSES, make_shapes
from explorer.interpret.model_cards import ModelCard, prepare_image
from explorer.models.blocks import ResidualBlock
from explorer.models.resnet import ResNet, eval_mode


def _resolve(model: nn.Module, names: Sequence[str]) -> list[nn.Module]:
    """model.get_submodule for each name; a ValueError that lists valid names for unknown ones."""
    modules = []
    for name in names:
        try:
            modules.append(model.get_submodule(name))
        except AttributeError:
            valid = [n for n, _m in model.named_modules() if n]
            shown = ", ".join(valid[:40]) + (f", ... ({len(valid)} in all)" if len(valid) > 40 else "")
            raise ValueError(f"no layer named {name!r}; layers are: {shown}") from None
    return modules


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


class _Enough(Exception):
    """Raised by a capture hook once a view has all it asked for: the rest of the forward pass is skipped."""


def _forward_until_captured(model: nn.Module, x: torch.Tensor) -> None:
    """``model(x)``, ended early when a hook raises ``_Enough`` (the layers after the last one a view reads
    would be computed for nothing: on average half the network for one layer or one block)."""
    try:
        model(x)
    except _Enough:
        pass


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


def _as_batch_map(layer: str, a: torch.Tensor) -> torch.Tensor:
    """A one-image batch of activations as (1, C, H, W), without a copy: vectors (1, C) become (1, C, 1, 1)."""
    if a.ndim == 2:
        a = a[:, :, None, None]
    if a.ndim != 4:
        raise ValueError(f"layer {layer!r} gives shape {tuple(a.shape)}, not a (C, H, W) feature map")
    return a if a.dtype == torch.float32 else a.float()


def _summarize_group(names: list[str], acts: list[torch.Tensor], k: int) -> list[FeatureMaps]:
    """FeatureMaps for same-shaped activations, each (1, C, H, W), at once: a handful of batched ops.

    Five reductions over the captured values (sum, norm, positive sum, positive count, max) go to the CPU
    as one (5, L, C) array; the per-channel arithmetic then runs in numpy on those small vectors.
    """
    _batch, c, h, w = acts[0].shape
    flat = (acts[0] if len(acts) == 1 else torch.cat(acts)).flatten(2)  # (L, C, H*W): a copy only for L > 1
    n = flat.shape[2]
    positive = flat.relu()  # a fresh tensor: sign_ below may overwrite it
    pos = positive.sum(2)
    # cheap reductions only (torch.var_mean and bool reductions are several times slower on CPU)
    sums = torch.stack([flat.sum(2), torch.linalg.vector_norm(flat, dim=2), pos, positive.sign_().sum(2), flat.amax(2)])
    total, norm, pos, count, peak = sums.cpu().numpy()
    mean = total / n
    std = np.sqrt(np.maximum(np.square(norm) / n - np.square(mean), 0.0))
    order = np.argsort(-pos, axis=1, kind="stable")[:, : min(k, c)]  # (L, k): mean positive activation ranks
    rows = np.arange(len(acts))[:, None]
    if flat.device.type == "cpu":  # numpy indexing: several times quicker than torch's for small maps
        maps = flat.numpy()[rows, order]
    else:  # only the k channels shown leave the device
        maps = flat[torch.from_numpy(rows).to(flat.device), torch.from_numpy(order).to(flat.device)].cpu().numpy()
    maps = maps.reshape(len(acts), -1, h, w)
    return [
        FeatureMaps(name, maps[i], order[i], mean[i], std[i], peak[i], count[i] / n, shape=(c, h, w))
        for i, name in enumerate(names)
    ]


@contextmanager
def _one_pass(
    model: nn.Module, x: torch.Tensor, layers: Sequence[str], block_name: str | None = None
) -> Iterator[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]]:
    """ONE forward pass of ``x`` (no grad, eval mode) that keeps the first output of each of ``layers`` and of
    ``block_name``, and that block's input; it stops once all have run. Yields (outputs in forward order,
    {block_name: input}) with the hooks already removed, still in eval mode and no grad (the model's mode is
    put back on exit). The explorer's ResNet computes nothing in place, so its tensors are kept uncopied;
    any other model (torchvision's does ``out += identity``) gets clones."""
    wanted = list(dict.fromkeys([*layers, *([block_name] if block_name is not None else [])]))
    outputs: dict[str, torch.Tensor] = {}
    inputs: dict[str, torch.Tensor] = {}
    clone = not isinstance(model, ResNet)

    def make(name: str) -> Callable:
        def hook(module, args, output):
            if isinstance(output, torch.Tensor) and name not in outputs:
                outputs[name] = output.clone() if clone else output
            if len(outputs) == len(wanted):
                raise _Enough

        return hook

    def pre(module, args):
        inputs.setdefault(block_name, args[0].clone() if clone else args[0])

    with torch.no_grad(), eval_mode(model):
        with (
            forward_hooks(model, {block_name: pre} if block_name is not None else {}, pre=True),
            forward_hooks(model, {n: make(n) for n in wanted}),
        ):
            _forward_until_captured(model, x)
        yield outputs, inputs


def _summarize(captured: dict[str, torch.Tensor], layers: Sequence[str], k: int) -> dict[str, FeatureMaps]:
    """FeatureMaps of ``layers`` (in the captured, forward order), one batch of reductions per shape."""
    wanted = set(layers)
    acts = {name: _as_batch_map(name, a) for name, a in captured.items() if name in wanted}  # (1, C, H, W)
    groups: dict[tuple[int, ...], list[str]] = {}
    for name, a in acts.items():
        groups.setdefault(tuple(a.shape), []).append(name)
    out: dict[str, FeatureMaps] = {}
    for names in groups.values():
        for fm in _summarize_group(names, [acts[n] for n in names], k):
            out[fm.layer] = fm
    return {n: out[n] for n in acts}


def all_feature_maps(
    model: nn.Module, image: torch.Tensor, layers: Sequence[str] | None = None, k: int = 16
) -> dict[str, FeatureMaps]:
    """Feature maps of many layers from ONE forward pass (eval mode, model's mode restored).

    The hooks keep references to the layers' outputs (the explorer's ResNet computes nothing in place);
    the only copies made are one stack per group of same-shaped layers and the k channels shown. The pass
    stops once every layer asked for has run (each layer's first call is the one kept).

    Args:
        image: (C, H, W) or (1, C, H, W); only the first image is summarised (and run).
        layers: default ``feature_layers(model)`` (stem output and every block).
    Returns:
        layer name -> FeatureMaps, in forward order.
    """
    layers = list(layers) if layers is not None else feature_layers(model)
    x = as_batch(image, model)[:1]  # only the first image is shown: run only it
    with _one_pass(model, x, layers) as (captured, _inputs):
        return _summarize(captured, layers, k)


def feature_maps(model: nn.Module, layer: str, image: torch.Tensor, k: int = 16) -> FeatureMaps:
    """The k most active channels of ``layer`` for ``image`` (first image of a batch), with per-channel stats."""
    return all_feature_maps(model, image, [layer], k)[layer]


def feature_layers(model: nn.Module) -> list[str]:
    """Layers worth a feature-map view: the stem's output and every residual block, in forward order."""
    names = ["relu"] if hasattr(model, "relu") else []
    if hasattr(model, "blocks"):
        names += [n for n, _b in model.blocks()]
    return names


def _norm(t: torch.Tensor | None) -> float | None:
    return None if t is None else float(t.norm())


def residual_decomposition(model: nn.Module, block_name: str, image: torch.Tensor) -> dict:
    """A block's input x, branch F(x), shortcut, sum and post-ReLU output for one image (eval mode).

    Returns a dict with numpy arrays of the first image, each (C, H, W):
        ``x`` (the block's input), ``branch`` F(x), ``shortcut`` (identity, option A or projection of x,
        times the shortcut scale; None for a plain block), ``sum`` F(x) + shortcut (None for plain),
        ``out`` relu(...) as the network computes it;
    and ``norms`` / ``stds`` (name -> float or None), ``ratio`` = ||F(x)|| / ||shortcut|| (None for plain),
    ``residual``, ``block``, ``note`` (plain-English remarks for the page).
    """
    block = _block(model, block_name)
    with _one_pass(model, as_batch(image, model)[:1], [], block_name) as (outputs, inputs):
        return _decompose(block, block_name, inputs[block_name], outputs[block_name])


def inside_view(
    model: nn.Module, layer: str, block_name: str, image: torch.Tensor, k: int = 16
) -> tuple[FeatureMaps, dict]:
    """``feature_maps(model, layer, image, k)`` and ``residual_decomposition(model, block_name, image)`` from
    ONE forward pass, up to the later of the two (the Inside page shows both for each network)."""
    block = _block(model, block_name)
    with _one_pass(model, as_batch(image, model)[:1], [layer], block_name) as (outputs, inputs):
        fm = _summarize(outputs, [layer], k)[layer]
        return fm, _decompose(block, block_name, inputs[block_name], outputs[block_name])


def _block(model: nn.Module, block_name: str) -> ResidualBlock:
    block = _resolve(model, [block_name])[0]
    if not isinstance(block, ResidualBlock):
        raise ValueError(f"{block_name!r} is not a residual block; blocks are {[n for n, _b in model.blocks()]}")
    return block


def _decompose(block: ResidualBlock, block_name: str, xin: torch.Tensor, out: torch.Tensor) -> dict:
    """The decomposition from a block's captured input and output (called in eval mode, without grad)."""
    branch = block.branch(xin)
    shortcut = total = None
    if block.residual:
        shortcut = block.shortcut(xin) * block.shortcut_scale
        total = branch + shortcut
    parts = {"x": xin, "branch": branch, "shortcut": shortcut, "sum": total, "out": out}
    arrays = {k: (None if v is None else v[0].cpu().numpy().copy()) for k, v in parts.items()}
    norms = {k: _norm(v) for k, v in parts.items()}
    return {
        "block": block_name,
        "residual": block.residual,
        "preact": block.preact,  # He et al. 2016: nothing after the addition, so ``out`` is ``sum``
        **arrays,
        "norms": norms,
        "stds": {k: (None if v is None else float(v.std())) for k, v in parts.items()},
        "ratio": norms["branch"] / norms["shortcut"] if norms["shortcut"] else None,
        "bypassed": bool(block.bypass),  # the network skips F(x) and passes only the shortcut on
        "reshapes": bool(block.residual and block.downsample is not None),  # the shortcut is downsampled x
    }


def probe_batch(card: ModelCard, model: ResNet, n: int = 32, seed: int = 12345) -> tuple[torch.Tensor, torch.Tensor]:
    """A small batch for gradient probes: held-out shapes with their labels for shapes-class networks,
    otherwise the built-in photos labelled by the network's own predictions."""
    if card.classes == SHAPE_CLASSES:
        s = make_shapes(n, size=card.image_size, seed=seed)
        info = replace(shapes_info(card.image_size), mean=card.mean, std=card.std)
        return normalize_images(s.images, info), s.labels
    x = torch.cat([prepare_image(card, load_image(p))[0] for p in sample_images().values()])
    with eval_mode(model), torch.no_grad():
        y = model(x).argmax(1)
    return x, y


def response_layers(model: nn.Module) -> list[str]:
    """The batch norms that follow a 3x3 convolution, in forward order (He et al. 2015, Fig. 7's "layers").

    CIFAR nets: the stem's ``bn1`` then each basic block's ``bn1`` and ``bn2``; bottleneck blocks: ``bn2``
    (their only 3x3). A 7x7 ImageNet stem is left out. Pre-activation blocks (He et al. 2016) have no BN
    after a conv, so there the 3x3 convs' own outputs are the responses (the bare stem conv is left out).
    """
    names = []
    stem = getattr(model, "conv1", None)
    if isinstance(stem, nn.Conv2d) and stem.kernel_size == (3, 3) and hasattr(model, "bn1"):
        names.append("bn1")
    for block_name, block in model.blocks():
        for conv, bn in (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")):
            c = getattr(block, conv, None)
            if isinstance(c, nn.Conv2d) and c.kernel_size == (3, 3):
                names.append(f"{block_name}.{conv if block.preact else bn}")
    return names


@torch.no_grad()
def layer_responses(model: nn.Module, images: torch.Tensor) -> tuple[list[str], np.ndarray]:
    """He et al. 2015, Fig. 7: the std of each 3x3 layer's response, in forward order.

    The response is the layer's output after batch norm and before the ReLU or the addition, in eval
    mode; its standard deviation is taken over every image, channel and position of ``images``
    (N, C, H, W). Returns (layer names, stds). The model's mode comes back as it was.
    """
    names = response_layers(model)
    sums = {n: [0.0, 0.0, 0] for n in names}

    def make(name: str) -> Callable:
        def hook(module, inputs, output):
            o = output.detach().double()
            s = sums[name]
            s[0] += float(o.sum())
            s[1] += float(o.square().sum())
            s[2] += o.numel()

        return hook

    x = as_batch(images, model)
    with eval_mode(model), forward_hooks(model, {n: make(n) for n in names}):
        model(x)
    stds = []
    for n in names:
        total, squares, count = sums[n]
        mean = total / count
        stds.append(float(np.sqrt(max(squares / count - mean * mean, 0.0) * count / max(count - 1, 1))))
    return names, np.array(stds)


@torch.no_grad()
def branch_ratios(model: nn.Module, images: torch.Tensor) -> list[tuple[str, float]]:
    """||F(x)|| / ||shortcut(x)|| of every residual block for a batch, in forward order, from one forward pass.

    Eval mode, the model's mode restored. With zero-gamma initialisation (Goyal et al. 2017) the last BN of
    each branch starts at 0, so F(x) = 0 and every ratio is 0 at initialisation.
    """
    inputs: dict[str, torch.Tensor] = {}

    def make(name: str) -> Callable:
        def pre(module, args):
            inputs[name] = args[0].detach()

        return pre

    blocks = {n: b for n, b in model.blocks() if b.residual}
    x = as_batch(images, model)
    with eval_mode(model), forward_hooks(model, {n: make(n) for n in blocks}, pre=True):
        model(x)
        out = []
        for name, block in blocks.items():
            xin = inputs[name]
            shortcut = block.shortcut(xin) * block.shortcut_scale
            out.append((name, float(block.branch(xin).norm() / shortcut.norm().clamp_min(1e-12))))
    return out
