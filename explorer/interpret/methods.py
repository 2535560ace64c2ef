"""Attribution methods side by side: Grad-CAM, Grad-CAM++, Score-CAM, LayerCAM, Guided Grad-CAM, Integrated
Gradients, Saliency and Occlusion under one signature (``METHODS``), and ``compare_methods`` for one image and one
target. The CAM family beside Grad-CAM is ``explorer.interpret.cams``; the others are captum's.

Every method runs as ``explorer.interpret.gradcam``'s Grad-CAM does: eval mode, frozen parameters, the model's lock held,
``model.training`` and every ``requires_grad`` put back; each returns an (H, W) map in [0, 1] as a numpy array.
captum is imported on first use.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from explorer.data.images import as_batch
from explorer.i18n import N_
from explorer.interpret.cams import one_image_method
from explorer.interpret.gradcam import _check_target, _Head, eval_view, grad_cam, resolve_layer
from explorer.progress import ProgressFn


def _scaled(a: np.ndarray) -> np.ndarray:
    """Divide a non-negative map by its max when the max is positive (never NaN)."""
    peak = float(a.max())
    return (a / peak if peak > 0 else np.zeros_like(a)).astype(np.float32)


def _input(x: torch.Tensor) -> torch.Tensor:
    """A copy of the input that asks for its gradient (captum warns, and would set it itself)."""
    return x.clone().requires_grad_(True)


def _pixel_map(attr: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) pixel attributions -> (H, W): sum of absolute values over colour channels, scaled to [0, 1]."""
    return _scaled(attr.detach()[0].abs().sum(dim=0).cpu().numpy())


def _gradcam_method(model, x, layer, target) -> np.ndarray:
    return grad_cam(model, x, layer, target).map


def _guided_gradcam_method(model, x, layer, target) -> np.ndarray:
    from captum.attr import GuidedGradCam

    x = as_batch(x, model, single=True)
    _, module = resolve_layer(model, layer)
    head = _Head(model, target)  # a module, so guided backprop finds the model's ReLUs through it
    with eval_view(model), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
        attr = GuidedGradCam(head, module).attribute(_input(x), interpolate_mode="bilinear")
    return _pixel_map(attr)


def ig_steps(size: int) -> int:
    """Integration steps: 32 for small images, 16 from 128 pixels (each step is a forward and backward pass)."""
    return 32 if size < 128 else 16


def _integrated_gradients_method(model, x, layer, target) -> np.ndarray:
    from captum.attr import IntegratedGradients

    x = as_batch(x, model, single=True)
    n_steps = ig_steps(max(x.shape[-2:]))
    with eval_view(model):
        target = _check_target(model, x, target)
        # baseline 0 is the mean colour for normalised inputs
        attr = IntegratedGradients(model).attribute(
            x, baselines=0.0, target=target, n_steps=n_steps, internal_batch_size=16
        )
    return _pixel_map(attr)


def _saliency_method(model, x, layer, target) -> np.ndarray:
    from captum.attr import Saliency

    x = as_batch(x, model, single=True)
    with eval_view(model):
        target = _check_target(model, x, target)
        attr = Saliency(model).attribute(_input(x), target=target, abs=True)
    return _pixel_map(attr)


def occlusion_window(size: int) -> tuple[int, int]:
    """(window, stride) for Occlusion: a quarter of the side, half-overlapping, so 7x7 positions at any size."""
    window = max(2, size // 4)
    return window, max(1, window // 2)


def _occlusion_method(model, x, layer, target) -> np.ndarray:
    from captum.attr import Occlusion

    x = as_batch(x, model, single=True)
    c, h, w = x.shape[1:]
    wh, sh = occlusion_window(h)
    ww, sw = occlusion_window(w)
    with eval_view(model), torch.no_grad():
        target = _check_target(model, x, target)
        attr = Occlusion(model).attribute(
            x,
            sliding_window_shapes=(c, wh, ww),
            strides=(c, sh, sw),
            baselines=0.0,
            target=target,
            perturbations_per_eval=16,
        )
    # the window spans all channels, so they agree; keep positive evidence (the score fell when hidden)
    return _scaled(np.maximum(attr[0].mean(dim=0).cpu().numpy(), 0.0))


# name -> (model, x, layer, target) -> (H, W) map in [0, 1]; ``layer`` is used by the CAM methods only
METHODS: dict[str, Callable[[nn.Module, torch.Tensor, str | None, int | None], np.ndarray]] = {
    "gradcam": _gradcam_method,
    "gradcam_pp": one_image_method("gradcam_pp"),
    "scorecam": one_image_method("scorecam"),
    "layercam": one_image_method("layercam"),
    "guided_gradcam": _guided_gradcam_method,
    "integrated_gradients": _integrated_gradients_method,
    "saliency": _saliency_method,
    "occlusion": _occlusion_method,
}

METHOD_LABELS = {  # English; show them through explorer.i18n._()
    "gradcam": "Grad-CAM",
    "gradcam_pp": N_("Grad-CAM++"),
    "scorecam": N_("Score-CAM"),
    "layercam": N_("LayerCAM"),
    "guided_gradcam": N_("Guided Grad-CAM"),
    "integrated_gradients": N_("Integrated Gradients"),
    "saliency": N_("Saliency"),
    "occlusion": N_("Occlusion"),
}


def attribute(
    model: nn.Module, x: torch.Tensor, method: str = "gradcam", layer: str | None = None, target: int | None = None
) -> np.ndarray:
    """Run one method of ``METHODS`` by name: an (H, W) map in [0, 1]."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    return METHODS[method](model, x, layer, target)


def compare_methods(
    model: nn.Module,
    x: torch.Tensor,
    layer: str | None = None,
    target: int | None = None,
    methods: list[str] | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, np.ndarray]:
    """Every method (or those named) on one image and one target (default: predicted): name -> (H, W) map."""
    names = list(METHODS) if methods is None else methods
    x = as_batch(x, model, single=True)
    with eval_view(model):
        target = _check_target(model, x, target)
    out = {}
    for i, name in enumerate(names):
        out[name] = attribute(model, x, name, layer, target)
        if progress is not None:
            progress(i + 1, len(names))
    return out
