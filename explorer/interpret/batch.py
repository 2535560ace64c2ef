"""Explain many pictures with one network: top-5 and a map per picture, Grad-CAM in batches.

Grad-CAM (Selvaraju et al. 2017) runs ONE forward and ONE backward pass per batch: each picture's target logit
(its own top-1, or one class for all) is summed, and since a network in eval mode treats the pictures of a
batch independently, the gradient of the sum at the layer is each picture's own gradient. The maps are then
``explorer.interpret.gradcam.grad_cam``'s, picture by picture (checked in the tests). Any other method of
``explorer.interpret.methods.METHODS`` is called by name, one picture at a time, after the batch's forward
pass has given the top-5 and the targets. Pictures are prepared for the network batch by batch (so memory
holds one batch of tensors), ``progress(done, total)`` follows the pictures, and ``stop`` (anything with
``is_set()``) ends the work between batches with the results so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.data.gather import Picture
from explorer.interpret import methods
from explorer.interpret.gradcam import eval_view, resolve_layer
from explorer.interpret.model_cards import ModelCard, prepare_image
from explorer.interpret.probes import forward_hooks
from explorer.interpret.trust import energy_inside
from explorer.progress import ProgressFn

TOP = 5
BATCH = 16


@dataclass
class Explained:
    """One picture explained: top-5 as (class index, probability), the class the map explains, the (H, W) map in
    [0, 1], the picture as the network saw it ((H, W, 3) uint8), and the share of the map's weight inside the
    shape's outline (None without an outline, or for a map the outline does not line up with)."""

    name: str
    top: list[tuple[int, float]]
    target: int
    method: str
    layer: str | None
    map: np.ndarray
    display: np.ndarray
    inside: float | None = None


def grad_cam_batch(
    model: nn.Module, x: torch.Tensor, layer: str | None = None, target: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, str]:
    """Grad-CAM of a batch from one forward and one backward pass.

    Args:
        x: (B, C, H, W) prepared pictures.
        layer: a name from ``gradcam.target_layers(model)``; default the last residual block.
        target: one class for every picture; None explains each picture's own top-1.
    Returns:
        (probabilities (B, classes), targets (B,), maps (B, H, W) in [0, 1], the layer's name).
    """
    name, _module = resolve_layer(model, layer)
    acts: dict[str, torch.Tensor] = {}

    def hook(module, inputs, output):
        if not output.requires_grad:  # parameters are frozen: the layer's output is the leaf the gradient stops at
            output = output.detach().requires_grad_(True)
        acts[name] = output
        return output

    with eval_view(model), torch.enable_grad(), forward_hooks(model, {name: hook}):
        logits = model(x)  # (B, classes)
        targets = _targets(logits, target)
        score = logits.gather(1, targets[:, None]).sum()
        (grad,) = torch.autograd.grad(score, [acts[name]])
    a = acts[name].detach()  # (B, C, h, w)
    cam = F.relu((grad.mean(dim=(2, 3))[:, :, None, None] * a).sum(dim=1, keepdim=True))  # (B, 1, h, w)
    up = F.interpolate(cam, tuple(x.shape[-2:]), mode="bilinear")[:, 0]  # (B, H, W)
    low_peak = cam.flatten(1).amax(dim=1)  # positive evidence is judged at the layer's resolution, as grad_cam does
    peak = up.flatten(1).amax(dim=1)
    scale = torch.where(low_peak > 0, 1.0 / peak.clamp_min(1e-30), torch.zeros_like(peak))
    maps = (up * scale[:, None, None]).cpu().numpy().astype(np.float32)
    return torch.softmax(logits.detach(), dim=1), targets, maps, name


def _targets(logits: torch.Tensor, target: int | None) -> torch.Tensor:
    n = logits.shape[1]
    if target is None:
        return logits.detach().argmax(dim=1)
    if isinstance(target, bool) or not 0 <= int(target) < n:
        raise ValueError(f"target must be a class index in [0, {n - 1}], got {target!r}")
    return torch.full((len(logits),), int(target), dtype=torch.long, device=logits.device)


def _top(probs: torch.Tensor) -> list[list[tuple[int, float]]]:
    p, i = probs.topk(min(TOP, probs.shape[1]), dim=1)
    return [list(zip(row_i.tolist(), row_p.tolist(), strict=True)) for row_i, row_p in zip(i, p, strict=True)]


def _other_method(model, x, method, layer, target) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, str | None]:
    """Top-5 and targets from one batched forward pass, then ``method`` picture by picture."""
    with eval_view(model), torch.no_grad():
        logits = model(x)
    targets = _targets(logits, target)
    maps = np.stack([methods.attribute(model, x[i : i + 1], method, layer, int(t)) for i, t in enumerate(targets)])
    return torch.softmax(logits, dim=1), targets, maps.astype(np.float32), layer


def explain_batch(
    model: nn.Module, x: torch.Tensor, method: str = "gradcam", layer: str | None = None, target: int | None = None
) -> tuple[list[list[tuple[int, float]]], list[int], np.ndarray, str | None]:
    """(top-5 per picture, target per picture, maps (B, H, W), layer name) for prepared pictures (B, C, H, W)."""
    if method not in methods.METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(methods.METHODS)}")
    if method == "gradcam":
        probs, targets, maps, name = grad_cam_batch(model, x, layer, target)
    else:
        probs, targets, maps, name = _other_method(model, x, method, layer, target)
    return _top(probs), targets.tolist(), maps, name


def _inside(picture: Picture, card: ModelCard, cam: np.ndarray) -> float | None:
    """The share of the map inside the picture's outline, when the network sees it at the outline's own size."""
    if picture.mask is None or picture.mask.shape != cam.shape or card.resize != "stretch":
        return None
    return energy_inside(cam, picture.mask)


def explain_pictures(
    card: ModelCard,
    model: nn.Module,
    pictures: Sequence[Picture],
    method: str = "gradcam",
    layer: str | None = None,
    target: int | None = None,
    batch_size: int = BATCH,
    progress: ProgressFn | None = None,
    stop=None,
) -> list[Explained]:
    """Every picture explained by ``method`` at ``layer`` for ``target`` (None: each picture's top-1), in batches.

    Returns one ``Explained`` per picture done, in order; fewer when ``stop`` was set.
    """
    out: list[Explained] = []
    for start in range(0, len(pictures), batch_size):
        if stop is not None and stop.is_set():
            break
        chunk = pictures[start : start + batch_size]
        prepared = [prepare_image(card, p.image) for p in chunk]
        x = torch.cat([xi for xi, _ in prepared])  # (B, C, H, W)
        tops, targets, maps, name = explain_batch(model, x, method, layer, target)
        for p, (_, display), top, t, cam in zip(chunk, prepared, tops, targets, maps, strict=True):
            out.append(Explained(p.name, top, t, method, name, cam, display, _inside(p, card, cam)))
        if progress is not None:
            progress(len(out), len(pictures))
    return out
