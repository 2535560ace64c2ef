"""The CAM family beside Grad-CAM: Grad-CAM++ (Chattopadhay et al. 2018), Score-CAM (Wang et al. 2020) and
LayerCAM (Jiang et al. 2021), for a batch of images with one target each, at any layer of ``target_layers``.

Each weighs the layer's output A (B, C, h, w) differently, then shows relu(sum_k w_k A_k), upsampled bilinearly
to the input and divided by its max, as ``explorer.interpret.gradcam`` does for Grad-CAM:

- Grad-CAM++: w_k = sum_ij relu(g_kij) a_kij with a_kij = g^2 / (2 g^2 + sum_ab A_kab g^3) where g != 0
  (the paper's Eq. 19, g = dy/dA for the target logit y).
- LayerCAM: no channel weight but a pixel one: sum_k relu(g_kij) A_kij.
- Score-CAM: no gradient. Each channel, upsampled and min-max scaled to [0, 1], masks the input; the target's
  logit on the masked image, softmax over the channels, is w_k. One forward per channel (``scorecam_passes``).

pytorch-grad-cam (``grad-cam``) has the same formulas; the tests check these maps against it. The gradients come
from one forward and one backward pass on the model's own forward hooks (``probes.forward_hooks``), with the
model in ``gradcam.eval_view``: eval mode, parameters frozen, the model's lock held, everything put back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.data.images import as_batch
from explorer.i18n import N_
from explorer.interpret.gradcam import eval_view, resolve_layer
from explorer.interpret.probes import forward_hooks, record_activations
from explorer.progress import ProgressFn

CAM_METHODS = ("gradcam_pp", "scorecam", "layercam")
PIXEL_BUDGET = 2**21  # Score-CAM: masked images per forward times their pixels (41 images at 224 x 224)
PROBE_SIZE = 32  # side of the blank image that finds a layer's channel count; every ResNet accepts it
# what a page says before Score-CAM runs: _(SCORECAM_COST).format(passes=scorecam_passes(model, layer, images))
SCORECAM_COST = N_(
    "Score-CAM runs the network once for each channel of the layer, on the image masked by that channel: "
    "{passes:,} forward passes here, where the other CAM methods need one forward and one backward pass."
)


def _targets(logits: torch.Tensor, targets: Sequence[int] | torch.Tensor | None) -> torch.Tensor:
    """(B,) class indices: the predicted ones for None; ValueError for a wrong count or an index out of range."""
    if targets is None:
        return logits.argmax(dim=1)
    t = torch.as_tensor(targets, dtype=torch.long, device=logits.device).reshape(-1)
    if len(t) != len(logits):
        raise ValueError(f"one target per image: {len(logits)} images, {len(t)} targets")
    n = logits.shape[1]
    if bool(((t < 0) | (t >= n)).any()):
        raise ValueError(f"each target must be a class index in [0, {n - 1}], got {t.tolist()}")
    return t


def activations_and_gradients(
    model: nn.Module, x: torch.Tensor, layer: str, targets: Sequence[int] | torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One forward and one backward pass: (A, dy/dA, targets, logits) at ``layer`` for each image's target.

    The layer's output becomes a leaf that asks for its gradient (parameters stay frozen), so the backward pass
    stops there; images do not mix in eval mode, so the gradient of the summed target logits is each image's own.
    """
    _, module = resolve_layer(model, layer)
    acts: dict[str, torch.Tensor] = {}

    def hook(module, inputs, output):
        if not output.requires_grad:
            output = output.detach().requires_grad_(True)
        acts["a"] = output
        return output

    with eval_view(model), torch.enable_grad(), forward_hooks(model, {layer: hook}):
        logits = model(x)  # (B, classes)
        t = _targets(logits, targets)
        (grad,) = torch.autograd.grad(logits.gather(1, t[:, None]).sum(), acts["a"])
    return acts["a"].detach(), grad, t, logits.detach()


def grad_cam_pp_weights(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """(B, C) Grad-CAM++ channel weights from A and dy/dA, both (B, C, h, w) (Chattopadhay et al., Eq. 19)."""
    g2 = g * g
    denom = 2 * g2 + a.sum(dim=(2, 3), keepdim=True) * g2 * g + 1e-6  # eps as pytorch-grad-cam
    alpha = torch.where(g != 0, g2 / denom, torch.zeros_like(g))
    return (alpha * F.relu(g)).sum(dim=(2, 3))


def _chunks(total: int, size: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + size, total)) for lo in range(0, total, size)]


def score_cam_weights(
    model: nn.Module,
    x: torch.Tensor,
    a: torch.Tensor,
    targets: torch.Tensor,
    batch_size: int | None = None,
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
) -> torch.Tensor | None:
    """(B, C) Score-CAM weights: softmax over channels of the target logit on the image masked by each channel.

    Every (image, channel) pair is one masked image; they go through the model ``batch_size`` at a time (default:
    ``PIXEL_BUDGET`` pixels per forward), each mask upsampled only when its chunk runs, so memory stays that of one
    chunk. ``progress(done, total)`` counts masked images; None when ``stop`` is set before the last chunk.
    """
    b, c = a.shape[:2]
    size = tuple(x.shape[-2:])
    step = batch_size or max(1, min(512, PIXEL_BUDGET // (size[0] * size[1])))
    flat = a.reshape(b * c, 1, *a.shape[2:])  # (B*C, 1, h, w)
    scores = torch.empty(b * c, device=x.device)
    with eval_view(model), torch.no_grad():
        for lo, hi in _chunks(b * c, step):
            if stop is not None and stop.is_set():
                return None
            # corners aligned, as pytorch-grad-cam's UpsamplingBilinear2d: the masks, not the map shown
            m = F.interpolate(flat[lo:hi], size, mode="bilinear", align_corners=True)  # (k, 1, H, W)
            low, high = m.amin(dim=(2, 3), keepdim=True), m.amax(dim=(2, 3), keepdim=True)
            m = (m - low) / (high - low + 1e-8)  # each mask in [0, 1]
            rows = torch.arange(lo, hi, device=x.device) // c  # the image of each pair
            logits = model(x[rows] * m)  # (k, classes)
            scores[lo:hi] = logits.gather(1, targets[rows][:, None])[:, 0]
            if progress is not None:
                progress(hi, b * c)
    return torch.softmax(scores.view(b, c), dim=1)


def _low_res(
    method: str, model: nn.Module, x: torch.Tensor, layer: str, targets, progress, stop, batch_size
) -> torch.Tensor | None:
    """The signed map at the layer's resolution, (B, h, w), before the relu."""
    if method == "scorecam":
        with eval_view(model), torch.no_grad(), record_activations(model, [layer]) as acts:
            t = _targets(model(x), targets)
        a = acts[layer]  # (B, C, h, w)
        w = score_cam_weights(model, x, a, t, batch_size, progress, stop)
        return None if w is None else torch.einsum("bc,bchw->bhw", w, a)
    a, g, _, _ = activations_and_gradients(model, x, layer, targets)
    if method == "gradcam_pp":
        return torch.einsum("bc,bchw->bhw", grad_cam_pp_weights(a, g), a)
    if method == "layercam":
        return (F.relu(g) * a).sum(dim=1)
    raise ValueError(f"unknown CAM method {method!r}; choose one of {list(CAM_METHODS)}")


def cam_maps(
    model: nn.Module,
    x: torch.Tensor,
    method: str,
    layer: str | None = None,
    targets: Sequence[int] | torch.Tensor | None = None,
    raw: bool = False,
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
    batch_size: int | None = None,
) -> np.ndarray | None:
    """Grad-CAM++, Score-CAM or LayerCAM of a batch of images, one target each.

    Args:
        model: any classifier; ``layer`` (a name from ``target_layers(model)``) defaults to its last block.
        x: preprocessed images (B, C, H, W), or one (C, H, W).
        method: one of ``CAM_METHODS``.
        targets: (B,) class indices; None explains each image's predicted class.
        raw: keep the signed, unscaled map (no relu), as the randomisation check compares.
        progress, stop, batch_size: Score-CAM's masked forwards (``score_cam_weights``); the others ignore them.
    Returns:
        (B, H, W) maps in [0, 1] (each divided by its max; all zeros where nothing speaks for the target),
        or None when Score-CAM was stopped.
    """
    if method not in CAM_METHODS:
        raise ValueError(f"unknown CAM method {method!r}; choose one of {list(CAM_METHODS)}")
    x = as_batch(x, model)
    name, _ = resolve_layer(model, layer)
    low = _low_res(method, model, x, name, targets, progress, stop, batch_size)
    if low is None:
        return None
    if not raw:
        low = F.relu(low)  # before upsampling, as captum's LayerGradCam and pytorch-grad-cam do
    up = F.interpolate(low[:, None], tuple(x.shape[-2:]), mode="bilinear")[:, 0]  # (B, H, W)
    if raw:
        return up.float().cpu().numpy()
    peak = up.flatten(1).amax(1).view(-1, 1, 1)
    positive = (low.flatten(1).amax(1) > 0).view(-1, 1, 1)  # judged at the layer's resolution, as grad_cam does
    return torch.where(positive, up / peak.clamp_min(1e-38), torch.zeros_like(up)).float().cpu().numpy()


def layer_channels(model: nn.Module, layer: str | None = None) -> int:
    """The number of channels of ``layer``'s output: one forward of a blank ``PROBE_SIZE`` image."""
    name, _ = resolve_layer(model, layer)
    shapes: list[torch.Size] = []
    colours = next((m.in_channels for m in model.modules() if isinstance(m, nn.Conv2d)), 3)
    probe = torch.zeros(1, colours, PROBE_SIZE, PROBE_SIZE)
    with eval_view(model), torch.no_grad(), forward_hooks(model, {name: lambda m, i, o: shapes.append(o.shape)}):
        model(as_batch(probe, model))
    return int(shapes[-1][1])


def scorecam_passes(model: nn.Module, layer: str | None = None, images: int = 1) -> int:
    """Single-image forward passes Score-CAM takes: one per channel of ``layer`` per image, plus the first one."""
    return images * (layer_channels(model, layer) + 1)


def one_image_method(method: str) -> Callable[[nn.Module, torch.Tensor, str | None, int | None], np.ndarray]:
    """``methods.METHODS``' signature for one image: (model, x, layer, target) -> (H, W) map in [0, 1]."""

    def run(model: nn.Module, x: torch.Tensor, layer: str | None, target: int | None) -> np.ndarray:
        x = as_batch(x, model, single=True)
        return cam_maps(model, x, method, layer, None if target is None else [target])[0]

    return run


def signed_method(method: str) -> Callable[[nn.Module, torch.Tensor, str | None, int | None], np.ndarray]:
    """``trust.SIGNED_METHODS``' signature: the signed, unscaled (H, W) map of one image."""

    def run(model: nn.Module, x: torch.Tensor, layer: str | None, target: int | None) -> np.ndarray:
        x = as_batch(x, model, single=True)
        return cam_maps(model, x, method, layer, None if target is None else [target], raw=True)[0]

    return run
