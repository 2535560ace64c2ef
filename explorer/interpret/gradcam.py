"""Grad-CAM (Selvaraju et al. 2017) and its film-strip, computed by captum; the other methods are in
``explorer.interpret.methods``.

Grad-CAM weights each channel k of a layer's output A by the spatial mean of the gradient of the target logit,
alpha_k = mean_ij dy/dA_kij, and shows relu(sum_k alpha_k A_k), upsampled bilinearly to the input size.
``raw=True`` keeps the signed, unnormalised map (relu off) so plain and residual twins compare on magnitude.

Every function runs the model in eval mode with its parameters frozen (only the activations need gradients,
which also makes the backward pass short) and puts ``model.training`` and every ``requires_grad`` back,
even after an exception; captum registers its hooks inside ``try/finally`` and removes them itself.
The model must run each target layer once per forward, with no in-place ops (captum FAQ); ours do.
``grad_cams`` forms the maps of many layers from ONE forward and ONE backward pass (the film-strip): the same
formula as captum's LayerGradCam, checked against it per block in the tests.
Inputs follow the model to its device (``explorer.devices``); maps come back as numpy arrays on the CPU.
captum is imported on first use, so importing this module (and starting the app) stays quick.
Views of one model object are serialised by a per-model re-entrant lock: a model cached for every session can
be explained from several threads without one view's eval switch or captum hooks leaking into another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.data.images import as_batch
from explorer.interpret.probes import forward_hooks
from explorer.models.blocks import ResidualBlock
from explorer.models.locks import model_lock
from explorer.models.resnet import block_names, eval_mode
from explorer.progress import ProgressFn

log = logging.getLogger(__name__)


# module kinds whose output is a (B, C, h, w) map a user may pick as the Grad-CAM layer
_LAYER_KINDS = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d)


@dataclass
class CamResult:
    """One Grad-CAM map.

    ``map`` is (H, W): in [0, 1] (divided by its max) unless ``raw``, then signed and unscaled.
    ``low_res`` is the map at the layer's resolution (h, w), before upsampling and scaling.
    ``peak`` is the largest value before scaling; ``has_positive_evidence`` is False when nothing in
    the layer speaks for the target (the map is then all zeros, never NaN).
    """

    map: np.ndarray
    low_res: np.ndarray
    target: int
    layer: str
    has_positive_evidence: bool
    peak: float
    raw: bool
    probability: float


@contextmanager
def eval_view(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and frozen parameters inside the block (``models.eval_mode``), holding the model's lock."""
    with model_lock(model), eval_mode(model, freeze=True):
        yield model


def target_layers(model: nn.Module) -> list[str]:
    """Names a Grad-CAM layer may take, in forward order: stages, blocks, convs, BNs, ReLUs, pools."""
    names = []
    for name, m in model.named_modules():
        if not name:
            continue
        is_stage = isinstance(m, nn.Sequential) and any(isinstance(c, ResidualBlock) for c in m.children())
        if is_stage or isinstance(m, (ResidualBlock, *_LAYER_KINDS)):
            names.append(name)
    return names


def default_layer(model: nn.Module) -> str:
    """The last residual block, e.g. 'layer3.2' or 'layer4.1'."""
    blocks = block_names(model)
    if not blocks:
        raise ValueError("this model has no residual blocks: name the Grad-CAM layer, e.g. layer='conv1'")
    return blocks[-1]


def resolve_layer(model: nn.Module, layer: str | None) -> tuple[str, nn.Module]:
    """(name, module) for a layer name; ValueError listing valid names if it is not one."""
    name = default_layer(model) if layer is None else layer
    valid = target_layers(model)
    if name not in valid:
        shown = ", ".join(valid[:12]) + (", ..." if len(valid) > 12 else "")
        raise ValueError(f"{name!r} is not a conv layer or block of this model; valid names ({len(valid)}): {shown}")
    return name, model.get_submodule(name)


class _Head(nn.Module):
    """forward_fn for captum: runs the model, keeps the logits, returns the target's logit (B,).

    With ``target=None`` it explains the predicted class, so Grad-CAM needs one forward, not two.
    A bad index raises ValueError inside captum's forward, where its hooks are live (tests rely on that).
    """

    def __init__(self, model: nn.Module, target: int | None) -> None:
        if target is not None and (isinstance(target, bool) or not isinstance(target, int | np.integer) or target < 0):
            raise ValueError(f"target must be a non-negative class index, got {target!r}")
        super().__init__()
        self.model, self.target = model, target
        self.logits: torch.Tensor | None = None
        self.chosen: int | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)  # (B, classes)
        n = logits.shape[1]
        if self.target is not None and self.target >= n:
            raise ValueError(f"target must be a class index in [0, {n - 1}], got {self.target}")
        t = logits.argmax(dim=1) if self.target is None else torch.full((len(x),), int(self.target), device=x.device)
        self.logits, self.chosen = logits.detach(), int(t[0])
        return logits.gather(1, t[:, None])[:, 0]  # (B,)


def _check_target(model: nn.Module, x: torch.Tensor, target: int | None) -> int:
    """The target class: the predicted one for None; ValueError when out of range."""
    head = _Head(model, target)
    with torch.no_grad():
        head(x)
    return head.chosen


def predict(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Class probabilities (softmax) for one image, shape (num_classes,)."""
    x = as_batch(x, model, single=True)
    with eval_view(model), torch.no_grad():
        return torch.softmax(model(x), dim=1)[0].cpu().numpy()


def top_k(model: nn.Module, x: torch.Tensor, k: int = 5, classes: list[str] | None = None) -> list[tuple[str, float]]:
    """The k most probable classes as (class name, probability), best first; names are indices without ``classes``."""
    probs = predict(model, x)
    if classes is not None and len(classes) != len(probs):
        raise ValueError(f"{len(classes)} class names for a model with {len(probs)} outputs")
    order = np.argsort(-probs, kind="stable")[: max(1, min(k, len(probs)))]
    return [(classes[i] if classes else str(i), float(probs[i])) for i in order]


def grad_cam(
    model: nn.Module, x: torch.Tensor, layer: str | None = None, target: int | None = None, raw: bool = False
) -> CamResult:
    """Grad-CAM of one image.

    Args:
        model: any classifier; the layer defaults to its last residual block.
        x: the preprocessed image, (C, H, W) or (1, C, H, W).
        layer: a name from ``target_layers(model)``.
        target: the class to explain; None explains the predicted class.
        raw: keep the signed map, no relu and no scaling.
    Returns:
        a ``CamResult`` with the (H, W) map.
    """
    return _grad_cam(model, x, layer, target, raw)[0]


def predict_and_grad_cam(
    model: nn.Module, x: torch.Tensor, layer: str | None = None, raw: bool = False
) -> tuple[np.ndarray, CamResult]:
    """``predict(model, x)`` and ``grad_cam(model, x, layer, None, raw)`` (the predicted class) from ONE forward
    pass: the logits of Grad-CAM's forward are the prediction (the same numbers, checked in the tests)."""
    res, head = _grad_cam(model, x, layer, None, raw)
    return torch.softmax(head.logits, dim=1)[0].cpu().numpy(), res


def _grad_cam(
    model: nn.Module, x: torch.Tensor, layer: str | None, target: int | None, raw: bool
) -> tuple[CamResult, _Head]:
    """``grad_cam``, and the head that kept the forward pass's logits."""
    from captum.attr import LayerGradCam

    x = as_batch(x, model, single=True)
    name, module = resolve_layer(model, layer)
    head = _Head(model, target)
    with eval_view(model):
        attr = LayerGradCam(head, module).attribute(x, relu_attributions=not raw).detach()  # (1, 1, h, w)
    prob = float(torch.softmax(head.logits, dim=1)[0, head.chosen])
    return _cam_results(attr, tuple(x.shape[-2:]), [name], head, raw, prob)[0], head


def _cam_results(
    attr: torch.Tensor, size: tuple[int, int], names: list[str], head: _Head, raw: bool, prob: float
) -> list[CamResult]:
    """CamResults from (L, 1, h, w) layer maps: upsampled bilinearly (captum's LayerAttribution.interpolate)."""
    ups = F.interpolate(attr, size, mode="bilinear")[:, 0].cpu().numpy().astype(np.float32)  # (L, H, W)
    lows = attr[:, 0].cpu().numpy().astype(np.float32)
    out = []
    for name, up, low in zip(names, ups, lows, strict=True):
        peak = float(up.max())
        positive = float(low.max()) > 0  # at the layer's resolution: upsampling a signed map can hide a small peak
        if not raw:
            up = up / peak if positive else np.zeros_like(up)
        out.append(CamResult(up, low, head.chosen, name, positive, peak, raw, prob))
    return out


def grad_cams(
    model: nn.Module,
    x: torch.Tensor,
    layers: list[str] | None = None,
    target: int | None = None,
    raw: bool = False,
) -> dict[str, CamResult]:
    """Grad-CAM at many layers from one forward and one backward pass, for one target.

    Each layer's map is exactly ``grad_cam(model, x, layer, target, raw)`` (captum's LayerGradCam):
    relu(sum_k mean_ij(dy/dA_kij) A_k). Hooks keep every layer's output; the first hooked output becomes
    a leaf that asks for its gradient (the parameters stay frozen), so the backward pass starts at the
    target logit and stops at the earliest layer, and ``torch.autograd.grad`` returns every layer's
    gradient at once.

    Args:
        layers: names from ``target_layers(model)``; default every residual block, in forward order.
    Returns:
        layer name -> CamResult, in the order of ``layers``.
    """
    x = as_batch(x, model, single=True)
    names = block_names(model) if layers is None else list(layers)
    if not names:
        raise ValueError("this model has no residual blocks")
    if layers is not None and not set(names) <= set(target_layers(model)):
        resolve_layer(model, next(n for n in names if n not in target_layers(model)))  # raises, listing valid names
    head = _Head(model, target)
    acts: dict[str, torch.Tensor] = {}

    def make(name: str) -> Callable:
        def hook(module, inputs, output):
            if not output.requires_grad:  # the earliest hooked layer: the backward pass stops here
                output = output.detach().requires_grad_(True)
            acts[name] = output
            return output

        return hook

    with eval_view(model), torch.enable_grad(), forward_hooks(model, {n: make(n) for n in names}):
        score = head(x)[0]
        grads = torch.autograd.grad(score, [acts[n] for n in names], allow_unused=True)
    prob = float(torch.softmax(head.logits, dim=1)[0, head.chosen])
    cams = {name: _layer_cam(acts[name].detach(), grad, raw) for name, grad in zip(names, grads, strict=True)}
    groups: dict[tuple[int, ...], list[str]] = {}  # same-sized maps are upsampled together
    for name, cam in cams.items():
        groups.setdefault(tuple(cam.shape), []).append(name)
    out: dict[str, CamResult] = {}
    for group in groups.values():
        batch = torch.cat([cams[n] for n in group])  # (L, 1, h, w)
        out.update(zip(group, _cam_results(batch, tuple(x.shape[-2:]), group, head, raw, prob), strict=True))
    return {name: out[name] for name in names}


def _layer_cam(a: torch.Tensor, grad: torch.Tensor | None, raw: bool) -> torch.Tensor:
    """One layer's Grad-CAM (1, 1, h, w) from its output ``a`` (1, C, h, w) and the target's gradient there."""
    if grad is None:  # the layer does not reach the target logit
        cam = torch.zeros_like(a[:, :1])
    else:  # sum_k alpha_k A_k as one matrix-vector product, alpha_k = mean_ij dy/dA_kij
        cam = (grad.mean(dim=(2, 3)) @ a.flatten(2)[0]).view(1, 1, *a.shape[2:])
    return cam if raw else F.relu(cam)


def filmstrip(
    model: nn.Module,
    x: torch.Tensor,
    target: int | None = None,
    raw: bool = False,
    progress: ProgressFn | None = None,
) -> list[tuple[str, np.ndarray]]:
    """Grad-CAM at every residual block for one target (default: predicted), as (block name, (H, W) map).

    One forward and one backward pass for all blocks (``grad_cams``). ``progress`` is called once, with
    (blocks, blocks), when the maps are ready.
    """
    cams = grad_cams(model, x, None, target, raw)
    if progress is not None:
        progress(len(cams), len(cams))
    return [(name, res.map) for name, res in cams.items()]
