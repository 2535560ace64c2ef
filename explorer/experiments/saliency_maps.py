"""The maps the saliency benchmark scores: Explain's methods on a whole batch, and two that explain nothing.

Each method is ``explorer.interpret.methods.METHODS``' own, made by the same captum class (or, for the CAM family
beside Grad-CAM, the same ``explorer.interpret.cams`` function) with the same settings (layer, integration steps,
occlusion window, baselines, scaling to [0, 1]), but for a batch of images and one target per image, so 256 images cost a few batched passes instead of 256 single ones. The tests check
each batched map equal to ``METHODS`` on single images.

The two honest baselines: ``random`` (a fresh uniform map per image) and ``center``
(a Gaussian at the image centre, sigma a quarter of the side). If the objects sit near the middle, ``center``
wins the pointing game without looking at the image.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.interpret.cams import cam_maps
from explorer.interpret.gradcam import eval_view, resolve_layer
from explorer.interpret.methods import ig_steps, occlusion_window

# the CLI's and the JSON's method names -> explorer.interpret.methods.METHODS' names (None: a baseline map)
METHOD_KEYS = {
    "grad-cam": "gradcam",
    "grad-cam++": "gradcam_pp",
    "score-cam": "scorecam",
    "layercam": "layercam",
    "guided-grad-cam": "guided_gradcam",
    "saliency": "saliency",
    "integrated-gradients": "integrated_gradients",
    "occlusion": "occlusion",
    "random": None,
    "center": None,
}
BASELINES = ("random", "center")


def _scale_each(a: torch.Tensor) -> np.ndarray:
    """(B, H, W) non-negative maps, each divided by its max when that is positive (as attribution_methods._scaled)."""
    peak = a.flatten(1).amax(1).view(-1, 1, 1)
    return torch.where(peak > 0, a / peak.clamp_min(1e-38), torch.zeros_like(a)).float().cpu().numpy()


def _pixel_maps(attr: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) pixel attributions -> (B, H, W): absolute values summed over colour, each scaled to [0, 1]."""
    return _scale_each(attr.detach().abs().sum(dim=1))


def grad_cam_maps(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, layer: str | None = None) -> np.ndarray:
    """Grad-CAM (captum LayerGradCam, relu) at ``layer`` (default: the last block), upsampled bilinearly."""
    from captum.attr import LayerGradCam

    _, module = resolve_layer(model, layer)
    with eval_view(model):
        low = LayerGradCam(model, module).attribute(x, target=targets, relu_attributions=True).detach()  # (B,1,h,w)
    up = F.interpolate(low, tuple(x.shape[-2:]), mode="bilinear")[:, 0]
    positive = low.flatten(1).amax(1) > 0  # judged at the layer's resolution, as attribution._cam_results
    return _scale_each(up * positive.view(-1, 1, 1))


def cam_family_maps(method: str):
    """``BATCHED``' signature for a method of ``explorer.interpret.cams`` (Grad-CAM++, Score-CAM, LayerCAM)."""

    def maps(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, layer: str | None = None) -> np.ndarray:
        return cam_maps(model, x, method, layer, targets)

    return maps


def guided_grad_cam_maps(model, x, targets, layer=None) -> np.ndarray:
    from captum.attr import GuidedGradCam

    _, module = resolve_layer(model, layer)
    with eval_view(model), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
        attr = GuidedGradCam(model, module).attribute(
            x.clone().requires_grad_(True), target=targets, interpolate_mode="bilinear"
        )
    return _pixel_maps(attr)


def saliency_maps(model, x, targets, layer=None) -> np.ndarray:
    from captum.attr import Saliency

    with eval_view(model):
        attr = Saliency(model).attribute(x.clone().requires_grad_(True), target=targets, abs=True)
    return _pixel_maps(attr)


def integrated_gradients_maps(model, x, targets, layer=None) -> np.ndarray:
    from captum.attr import IntegratedGradients

    n_steps = ig_steps(max(x.shape[-2:]))
    with eval_view(model):
        attr = IntegratedGradients(model).attribute(
            x, baselines=0.0, target=targets, n_steps=n_steps, internal_batch_size=max(n_steps, 256)
        )
    return _pixel_maps(attr)


def occlusion_maps(model, x, targets, layer=None) -> np.ndarray:
    from captum.attr import Occlusion

    c, h, w = x.shape[1:]
    wh, sh = occlusion_window(h)
    ww, sw = occlusion_window(w)
    with eval_view(model), torch.no_grad():
        attr = Occlusion(model).attribute(
            x,
            sliding_window_shapes=(c, wh, ww),
            strides=(c, sh, sw),
            baselines=0.0,
            target=targets,
            perturbations_per_eval=max(1, 512 // len(x)),
        )
    return _scale_each(attr.mean(dim=1).clamp_min(0.0))


BATCHED = {
    "gradcam": grad_cam_maps,
    "gradcam_pp": cam_family_maps("gradcam_pp"),
    "scorecam": cam_family_maps("scorecam"),
    "layercam": cam_family_maps("layercam"),
    "guided_gradcam": guided_grad_cam_maps,
    "saliency": saliency_maps,
    "integrated_gradients": integrated_gradients_maps,
    "occlusion": occlusion_maps,
}


def center_map(size: tuple[int, int]) -> np.ndarray:
    """(H, W) a Gaussian at the image centre with sigma a quarter of the side, peak 1."""
    h, w = size
    ys = (np.arange(h) - (h - 1) / 2) / (h / 4)
    xs = (np.arange(w) - (w - 1) / 2) / (w / 4)
    return np.exp(-0.5 * (ys[:, None] ** 2 + xs[None, :] ** 2)).astype(np.float32)


def method_maps(
    name: str, model: nn.Module, x: torch.Tensor, targets: torch.Tensor, rng: np.random.Generator
) -> np.ndarray:
    """(B, H, W) maps in [0, 1] of method ``name`` (a key of ``METHOD_KEYS``) for each image's target."""
    if name not in METHOD_KEYS:
        raise ValueError(f"unknown method {name!r}; choose one of {list(METHOD_KEYS)}")
    size = tuple(x.shape[-2:])
    if name == "random":
        return rng.random((len(x), *size)).astype(np.float32)
    if name == "center":
        return np.repeat(center_map(size)[None], len(x), axis=0)
    return BATCHED[METHOD_KEYS[name]](model, x, targets)
