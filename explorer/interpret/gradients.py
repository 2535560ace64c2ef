"""Gradient flow and shattered gradients, plain nets against their residual twins.

``gradient_norms``: the norm of the loss gradient of every conv/linear weight for one batch, in
forward order. With batch normalisation a plain network's gradients do not vanish; at initialisation
they *explode* towards the input (Yang et al. 2019, "A Mean Field Theory of Batch Normalization"),
and ``first_last_ratios`` measures by how much. He et al. 2015 (section 4.1) checked their plain nets'
gradients during training and found no vanishing; their training degrades anyway. ``shattered_gradients``: Balduzzi et al. 2017, "The
Shattered Gradients Problem": along a line of inputs the derivative of a deep plain network's output
looks like white noise, a residual network's stays correlated.

Batch norm in the shattered-gradients probe: the points of the line must not share batch statistics
(train-mode BN would mix their gradients), and at initialisation the running statistics are 0/1, so
eval-mode BN would be the identity and the network unnormalised. We therefore *calibrate*: on a copy,
the running statistics are set from one data batch in train mode, then the copy runs in eval mode.
That is the network at initialisation as batch norm normalises it, with each point's gradient its own.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.data.base import normalize_images
from explorer.data.datasets import shapes_info
from explorer.data.shapes import make_shapes
from explorer.devices import model_device
from explorer.interpret.gradient_results import (
    ShatteredResult,
    SweepResult,
    autocorrelation,
)
from explorer.interpret.probes import forward_hooks
from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet
from explorer.progress import ProgressFn
from explorer.training.recorders import weight_layers


def gradient_norms(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, train_mode: bool = True
) -> list[tuple[str, float]]:
    """Norm of d(cross-entropy)/d(weight) for every conv and linear layer, in the order the forward calls them.

    Runs on ``shadow_copy(model)``: the model is never written to, not even during the pass (other sessions may
    use a shared network meanwhile), so its ``.grad``, BN statistics, modes and ``requires_grad`` stay as they
    are, and no weight is copied. Each conv and linear weight enters as a fresh leaf of the same values.
    ``train_mode`` uses batch statistics in BN, as in training (the usual view at initialisation); the copy's BN
    then have no running statistics to update. ``train_mode=False`` uses the running statistics.
    """
    work = shadow_copy(model).train(train_mode)
    x, y = x.to(model_device(model)), y.to(model_device(model))  # the batch follows the network to its device
    for m in work.modules():
        m._parameters.update({k: p.detach() for k, p in m._parameters.items() if p is not None})  # the copy's own
        if train_mode and isinstance(m, nn.modules.batchnorm._BatchNorm):
            m._buffers.update(dict.fromkeys(("running_mean", "running_var", "num_batches_tracked")))
    weights = {name: w.requires_grad_(True) for name, w in weight_layers(work)}  # leaves of the model's values
    order: list[str] = []

    def make(name: str) -> Callable:
        def hook(module, inputs, output):
            if name not in order:
                order.append(name)

        return hook

    with forward_hooks(work, {n: make(n) for n in weights}):
        loss = F.cross_entropy(work(x), y)
    grads = torch.autograd.grad(loss, [weights[n] for n in order])
    return [(n, float(g.norm())) for n, g in zip(order, grads, strict=True)]


def scaled_gradient_norms(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, scale: float, train_mode: bool = True
) -> list[tuple[str, float]]:
    """``gradient_norms`` with every block computing out = F(x) + scale * shortcut(x) (``ResNet.set_shortcut_scale``).

    The scale is set on a ``shadow_copy``: the model itself (perhaps shared by every session) keeps its own.
    """
    work = shadow_copy(model)
    work.set_shortcut_scale(scale)
    return gradient_norms(work, x, y, train_mode=train_mode)


def shadow_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module``'s tree of modules that shares its tensors: a module's own ``__dict__``, parameter,
    buffer and child dicts, and no hooks. Setting the copy's parameters, buffers or modes leaves ``module``
    untouched; a ResNet-110 copies in about a quarter of ``copy.deepcopy``'s time, and no tensor is copied."""
    copy_ = object.__new__(type(module))
    state = dict(vars(module))
    for key, value in state.items():
        if isinstance(value, dict | set):
            state[key] = type(value)() if "hooks" in key else value.copy()
    state["_modules"] = {k: None if m is None else shadow_copy(m) for k, m in module._modules.items()}
    copy_.__dict__ = state
    return copy_


def shapes_batch(n: int = 64, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A normalised batch of the built-in shapes dataset: images (n, 3, size, size), labels (n,)."""
    s = make_shapes(n, size=size, seed=seed)
    return normalize_images(s.images, shapes_info(size)), s.labels


def depth_sweep(
    depths: Sequence[int] = (20, 32, 44, 56, 110),
    residual: Sequence[bool] = (True, False),
    seed: int = 0,
    batch: int = 64,
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
    preact: Sequence[bool] = (False,),
) -> list[SweepResult]:
    """Per-layer gradient norms at initialisation for CIFAR-style nets of several depths, plain and residual,
    with the 2015 blocks and (``preact`` True) the 2016 pre-activation blocks.

    One shapes batch (``batch`` images) for all; twins share weights (same seed). Stops early on ``stop``.
    """
    x, y = shapes_batch(batch, seed=seed)
    jobs = [(d, p, r) for d in depths for p in preact for r in residual]
    out = []
    for i, (d, p, r) in enumerate(jobs):
        if stop is not None and stop.is_set():
            break
        model = build_resnet(ResNetConfig("cifar", d, residual=r, preact=p), seed=seed)
        norms = gradient_norms(model, x, y)
        out.append(SweepResult(model.config.name, d, r, [n for n, _ in norms], [v for _, v in norms], p))
        if progress:
            progress(i + 1, len(jobs))
    return out


def calibrate_bn(model: nn.Module, batch: torch.Tensor) -> nn.Module:
    """A copy in eval mode whose BN running statistics are those of ``batch`` (one train-mode pass)."""
    work = copy.deepcopy(model)
    for m in work.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average: after one pass, exactly this batch's statistics
    work.train()
    with torch.no_grad():
        work(batch)
    return work.eval()


def shattered_gradients(
    model: nn.Module,
    x0: torch.Tensor,
    calibration: torch.Tensor | None = None,
    n_points: int = 256,
    span: float = 1.0,
    max_lag: int = 32,
    seed: int = 0,
    direction: torch.Tensor | None = None,
    projection: torch.Tensor | None = None,
    chunk: int = 64,
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
) -> ShatteredResult | None:
    """Derivative of a fixed random projection of the logits along x(t) = x0 + t d, t in [-span, span].

    Args:
        model: any classifier; it is copied, never changed.
        x0: (C, H, W) a normalised image.
        direction: d, (C, H, W); default a seeded Gaussian (unit variance per pixel).
        projection: u, (num_classes,): the output is logits @ u; default seeded Gaussian.
        calibration: a data batch to set BN statistics (see the module docstring); None keeps the model's
            own running statistics (right for a trained network).
    Returns:
        ShatteredResult, or None if stopped.
    """
    if n_points < max_lag + 2:
        raise ValueError(f"n_points must exceed max_lag + 1, got {n_points} and {max_lag}")
    work = calibrate_bn(model, calibration) if calibration is not None else copy.deepcopy(model).eval()
    for p in work.parameters():
        p.requires_grad_(False)  # only input gradients are needed
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(x0.shape, generator=g) if direction is None else direction  # (C, H, W)
    if projection is None:
        with torch.no_grad():
            projection = torch.randn(work(x0[None]).shape[1], generator=g)  # fixed random projection of logits
    d, u = d.to(x0.dtype), projection.to(x0.dtype)
    t = torch.linspace(-span, span, n_points, dtype=x0.dtype)
    grads = []
    for i in range(0, n_points, chunk):
        if stop is not None and stop.is_set():
            return None
        xs = (x0[None] + t[i : i + chunk, None, None, None] * d[None]).requires_grad_(True)  # (b, C, H, W)
        (gx,) = torch.autograd.grad((work(xs) @ u).sum(), xs)
        grads.append(gx.flatten(1))
        if progress:
            progress(min(i + chunk, n_points), n_points)
    full = torch.cat(grads)  # (n, C*H*W)
    along = (full @ d.flatten()).numpy()  # directional derivative df/dt
    unit = F.normalize(full, dim=1)
    cosine = np.array([1.0] + [float((unit[:-k] * unit[k:]).sum(1).mean()) for k in range(1, max_lag + 1)])
    config = getattr(model, "config", None)
    name = getattr(config, "name", type(model).__name__)
    residual = getattr(config, "residual", None)
    return ShatteredResult(name, t.numpy(), along, autocorrelation(along, max_lag), cosine, residual)


def shattered_sweep(
    depths: Sequence[int] = (20, 56, 110),
    residual: Sequence[bool] = (True, False),
    seed: int = 0,
    n_points: int = 256,
    max_lag: int = 32,
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
) -> list[ShatteredResult]:
    """``shattered_gradients`` at initialisation for CIFAR-style nets, plain and residual, on one shapes image."""
    x, _ = shapes_batch(128, seed=seed)
    jobs = [(d, r) for d in depths for r in residual]
    out = []
    for i, (d, r) in enumerate(jobs):
        model = build_resnet(ResNetConfig("cifar", d, residual=r), seed=seed)
        res = shattered_gradients(model, x[0], calibration=x, n_points=n_points, max_lag=max_lag, seed=seed, stop=stop)
        if res is None:
            break
        out.append(res)
        if progress:
            progress(i + 1, len(jobs))
    return out
