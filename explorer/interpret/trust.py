"""Can a saliency map be trusted? Two checks.

1. Cascading model randomisation (Adebayo et al. 2018, "Sanity Checks for Saliency Maps"): re-initialise the
   layers of a copy of the model from the top (fc) down to the stem, block by block, with the model's own
   initialiser and batch-norm statistics recomputed from a batch, and compare each map with the original by
   Spearman rank correlation, with and without absolute values. A method that explains the model must change
   as its weights go; one whose map survives randomisation (in the paper: Guided Backprop and Guided
   Grad-CAM) is showing the input, not the model. Passing is necessary, not sufficient.
2. Localisation on the built-in shapes dataset, whose ground-truth masks say where the object is: the share of
   positive saliency inside the mask ("energy-based pointing", Wang et al. 2020, Score-CAM) and the pointing
   game (Zhang et al. 2018: is the map's maximum on the object, within 3% of the image's side).

The metric functions take plain arrays, so they work with any map and any mask.
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from captum.attr import GuidedGradCam, IntegratedGradients, Saliency
from torch import nn

from explorer.data.images import as_batch
from explorer.interpret.cams import signed_method
from explorer.interpret.gradcam import _Head, eval_view, grad_cam, resolve_layer
from explorer.interpret.methods import METHODS, ig_steps
from explorer.models.resnet import block_names
from explorer.progress import ProgressFn

log = logging.getLogger(__name__)


def rank(a: np.ndarray) -> np.ndarray:
    """Ranks 1..n of a flattened array, ties sharing their average rank (as scipy.stats.rankdata)."""
    values, inverse, counts = np.unique(
        np.asarray(a, dtype=np.float64).ravel(), return_inverse=True, return_counts=True
    )
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[inverse]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two maps; 0.0 when either is constant (no ordering to share)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"maps differ in size: {a.shape} vs {b.shape}")
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else 0.0


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation: Pearson correlation of the (tie-averaged) ranks; 0.0 for a constant map."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"maps differ in shape: {np.shape(a)} vs {np.shape(b)}")
    return pearson(rank(a), rank(b))


def top_overlap(a: np.ndarray, b: np.ndarray, share: float = 0.1) -> float:
    """Intersection over union of the top ``share`` of pixels of two maps."""
    k = max(1, int(round(share * np.size(a))))
    ta = set(np.argsort(-np.ravel(a), kind="stable")[:k].tolist())
    tb = set(np.argsort(-np.ravel(b), kind="stable")[:k].tolist())
    return len(ta & tb) / len(ta | tb)


def randomisation_steps(model: nn.Module) -> list[tuple[str, list[str]]]:
    """(step name, module names to re-initialise) from the top down: fc, the blocks last to first, the stem."""
    names = {n for n, _ in model.named_modules()}
    steps = [("fc", ["fc"])] if "fc" in names else []
    steps += [(b, [b]) for b in reversed(block_names(model))]
    stem = [n for n in ("conv1", "bn1") if n in names]
    if stem:
        steps.append(("stem", stem))
    return steps


def _fresh_twin(model: nn.Module, seed: int) -> nn.Module | None:
    """The same architecture freshly built by the model's own initialiser (None for a model without a config)."""
    config = getattr(model, "config", None)
    if config is None:
        return None
    from explorer.models.resnet import build_resnet

    return build_resnet(config, seed=seed)


@torch.no_grad()
def reinitialise(module: nn.Module, generator: torch.Generator) -> None:
    """Fresh random weights for a module of a model without a config: torchvision's ResNet initialiser.

    Convs Kaiming-normal (fan_out, ReLU), batch norms weight 1 and bias 0, linear layers as nn.Linear's
    default; all drawn from ``generator``. (The explorer's own networks are re-initialised by their own
    ``init_weights``, through ``_fresh_twin``.)
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups
            m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * (2.0 / fan_out) ** 0.5)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, nn.Linear):
            bound = 1.0 / m.in_features**0.5
            m.weight.copy_((torch.rand(m.weight.shape, generator=generator) * 2 - 1) * bound)
            if m.bias is not None:
                m.bias.copy_((torch.rand(m.bias.shape, generator=generator) * 2 - 1) * bound)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_parameters()


@torch.no_grad()
def recompute_bn_statistics(model: nn.Module, modules: list[nn.Module], batch: torch.Tensor) -> None:
    """Set the running statistics of the batch norms inside ``modules`` from ``batch`` (one pass).

    Every other layer runs in eval mode with its own statistics; the model is left in eval mode.
    Without this, a re-initialised BN (running mean 0, variance 1) would leave its input unnormalised,
    and a randomised residual branch would almost vanish beside its shortcut, so plain and residual
    curves would not be comparable.
    """
    bns = [m for mod in modules for m in mod.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    model.eval()
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: after one pass, exactly this batch's statistics
        bn.train()
    if bns:
        model(batch)
    model.eval()


def randomise_cascade(work: nn.Module, calibration: torch.Tensor, seed: int = 1) -> Iterator[str]:
    """Re-randomise ``work`` IN PLACE from the top down, yielding each step's name after it is done.

    Each step's modules are re-drawn by the model's own initialiser (the same modules of
    ``build_resnet(config, seed)``; ``reinitialise`` for a model without a config), then the batch-norm
    statistics of everything re-drawn so far are recomputed from ``calibration`` (N, C, H, W).
    """
    fresh = _fresh_twin(work, seed)
    gen = torch.Generator().manual_seed(seed)
    batch = as_batch(calibration[:1]) if calibration.ndim == 3 else calibration.detach().float()
    randomised: list[nn.Module] = []
    for step, names in randomisation_steps(work):
        for name in names:
            module = work.get_submodule(name)
            with torch.no_grad():
                if fresh is not None:
                    module.load_state_dict(fresh.get_submodule(name).state_dict())
                else:
                    reinitialise(module, gen)
            randomised.append(module)
        recompute_bn_statistics(work, randomised, batch)
        yield step


def _signed_gradcam(model, x, layer, target) -> np.ndarray:
    return grad_cam(model, x, layer, target, raw=True).map


def _signed_guided_gradcam(model, x, layer, target) -> np.ndarray:
    x = as_batch(x)
    _, module = resolve_layer(model, layer)
    with eval_view(model), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
        attr = GuidedGradCam(_Head(model, target), module).attribute(
            x.clone().requires_grad_(True), interpolate_mode="bilinear"
        )
    return attr.detach()[0].sum(dim=0).numpy()


def _signed_saliency(model, x, layer, target) -> np.ndarray:
    x = as_batch(x)
    with eval_view(model):
        attr = Saliency(_Head(model, target)).attribute(x.clone().requires_grad_(True), abs=False)
    return attr.detach()[0].sum(dim=0).numpy()


def _signed_integrated_gradients(model, x, layer, target) -> np.ndarray:
    x = as_batch(x)
    with eval_view(model):
        attr = IntegratedGradients(_Head(model, target)).attribute(
            x, baselines=0.0, n_steps=ig_steps(max(x.shape[-2:])), internal_batch_size=16
        )
    return attr.detach()[0].sum(dim=0).numpy()


# The signed maps the randomisation check compares (Adebayo et al. rank them with and without absolute
# values): raw Grad-CAM, Grad-CAM++, Score-CAM and LayerCAM (no ReLU, no scaling), Guided Grad-CAM, the gradient, Integrated Gradients; each
# summed over colour channels. (H, W) arrays; ``layer`` is used by the CAM methods only.
SIGNED_METHODS: dict[str, Callable[[nn.Module, torch.Tensor, str | None, int | None], np.ndarray]] = {
    "gradcam": _signed_gradcam,
    "gradcam_pp": signed_method("gradcam_pp"),
    "scorecam": signed_method("scorecam"),
    "layercam": signed_method("layercam"),
    "guided_gradcam": _signed_guided_gradcam,
    "saliency": _signed_saliency,
    "integrated_gradients": _signed_integrated_gradients,
}
CHECK_METHODS = ("gradcam", "guided_gradcam", "saliency")  # the page's default: the one that fails among them


@dataclass
class RandomisationResult:
    """The cascading randomisation curve of one method: step 0 is the trained model ('original').

    ``spearman`` ranks the signed maps, ``spearman_abs`` their absolute values (Adebayo et al. report
    both); ``pearson`` and ``top_overlap`` compare the absolute maps. ``maps`` are the signed maps.
    """

    method: str
    steps: list[str]
    spearman: list[float]
    spearman_abs: list[float]
    pearson: list[float]
    top_overlap: list[float]
    maps: list[np.ndarray] = field(repr=False)
    complete: bool = True

    def add(self, step: str, original: np.ndarray, new: np.ndarray) -> None:
        """One randomisation step: ``new``, the map after it, compared with the trained model's ``original``."""
        self.steps.append(step)
        self.maps.append(new)
        self.spearman.append(spearman(original, new))
        self.spearman_abs.append(spearman(np.abs(original), np.abs(new)))
        self.pearson.append(pearson(np.abs(original), np.abs(new)))
        self.top_overlap.append(top_overlap(np.abs(original), np.abs(new)))


def randomisation_check(
    model: nn.Module,
    x: torch.Tensor,
    methods: tuple[str, ...] | list[str] = CHECK_METHODS,
    layer: str | None = None,
    target: int | None = None,
    calibration: torch.Tensor | None = None,
    seed: int = 1,
    progress: ProgressFn | None = None,
    stop=None,
) -> dict[str, RandomisationResult]:
    """Adebayo et al.'s cascading model randomisation, several methods on the same randomised copies.

    From the top (fc) down to the stem, block by block, the layers of a copy of ``model`` are re-drawn by
    the model's own initialiser (``build_resnet(config, seed)``; torchvision's scheme for other models),
    the batch-norm statistics of everything re-drawn so far are recomputed from ``calibration``, and each
    method's map is compared with its map on the trained model.

    Args:
        model: a classifier; never modified.
        x: one preprocessed image (C, H, W) or (1, C, H, W).
        methods: keys of ``SIGNED_METHODS``.
        layer: the CAM methods' layer (default: the last block).
        target: the class; None uses the trained model's prediction at every step.
        calibration: a batch (N, C, H, W) for the batch-norm statistics; None uses ``x`` alone.
        seed: seed of the new weights.
        progress: called with (steps done, steps in all).
        stop: a ``threading.Event``; when set, the results so far come back with ``complete=False``.
    Returns:
        method -> ``RandomisationResult``, one entry per step, the original first.
    """
    unknown = [m for m in methods if m not in SIGNED_METHODS]
    if unknown or not methods:
        raise ValueError(f"unknown method(s) {unknown}; choose from {list(SIGNED_METHODS)}")
    x = as_batch(x)
    work = copy.deepcopy(model).eval()
    if target is None:
        with torch.no_grad():
            target = int(work(x).argmax(dim=1).item())
    originals = {m: SIGNED_METHODS[m](work, x, layer, target) for m in methods}
    results = {m: RandomisationResult(m, ["original"], [1.0], [1.0], [1.0], [1.0], [originals[m]]) for m in methods}
    total = len(randomisation_steps(work))
    batch = x if calibration is None else calibration
    for i, step in enumerate(randomise_cascade(work, batch, seed)):
        for m in methods:
            results[m].add(step, originals[m], SIGNED_METHODS[m](work, x, layer, target))
        if progress is not None:
            progress(i + 1, total)
        if stop is not None and stop.is_set() and i + 1 < total:
            for r in results.values():
                r.complete = False
            break
    return results


def cascading_randomisation(
    model: nn.Module,
    x: torch.Tensor,
    method: str = "gradcam",
    layer: str | None = None,
    target: int | None = None,
    seed: int = 1,
    calibration: torch.Tensor | None = None,
    progress: ProgressFn | None = None,
    stop=None,
) -> RandomisationResult:
    """``randomisation_check`` for one method."""
    if method not in SIGNED_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(SIGNED_METHODS)}")
    return randomisation_check(model, x, (method,), layer, target, calibration, seed, progress, stop)[method]


def _check_pair(saliency: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    saliency = np.asarray(saliency, dtype=np.float64)
    mask = np.asarray(mask).astype(bool)
    if saliency.ndim != 2 or saliency.shape != mask.shape:
        raise ValueError(f"expected a (H, W) map and a mask of the same shape, got {saliency.shape} and {mask.shape}")
    return saliency, mask


def energy_inside(saliency: np.ndarray, mask: np.ndarray) -> float | None:
    """Share of the positive saliency that falls inside the mask, in [0, 1]; None for a map with none.

    A map spread evenly scores the mask's area share (``mask.mean()``), the chance level.
    """
    saliency, mask = _check_pair(saliency, mask)
    pos = np.maximum(saliency, 0.0)
    total = pos.sum()
    return float(pos[mask].sum() / total) if total > 0 else None


# Zhang et al. 2018 count a hit within 15 pixels of the object on VOC07 and COCO images, about 500 pixels a side:
# 3% of the side. At the shapes' 24 pixels that is 0.7 pixel, rounded up to the smallest tolerance there is, 1.
POINTING_TOLERANCE = 15 / 500


def default_tolerance(size: int) -> int:
    """The pointing game's tolerance in pixels for images ``size`` pixels a side: 15 at 500 (Zhang et al. 2018),
    so 1 at 24 or 32 and 7 at 224; never below 1."""
    return max(1, round(POINTING_TOLERANCE * size))


def hit_zone(mask: np.ndarray, tolerance: int) -> np.ndarray:
    """(H, W) bool: the pixels within ``tolerance`` pixels (Euclidean) of the mask, where a map's peak is a hit."""
    mask = np.asarray(mask).astype(bool)
    h, w = mask.shape
    zone = mask.copy()
    for dy in range(-tolerance, tolerance + 1):
        for dx in range(-tolerance, tolerance + 1):
            if (dy or dx) and dy * dy + dx * dx <= tolerance * tolerance:
                src = mask[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
                zone[max(0, dy) : h - max(0, -dy), max(0, dx) : w - max(0, -dx)] |= src
    return zone


def pointing_hit(saliency: np.ndarray, mask: np.ndarray, tolerance: int | None = None) -> bool:
    """Whether the map's maximum lies within ``tolerance`` pixels (Euclidean) of the mask.

    A map without positive evidence points nowhere: a miss. Ties take the first maximum in row order.
    A map whose peak falls anywhere at random hits with probability ``hit_zone(mask, tolerance).mean()``.
    """
    saliency, mask = _check_pair(saliency, mask)
    if not mask.any() or saliency.max() <= 0:
        return False
    tol = default_tolerance(max(mask.shape)) if tolerance is None else tolerance
    i, j = np.unravel_index(int(np.argmax(saliency)), saliency.shape)
    return bool(hit_zone(mask, tol)[i, j])


@dataclass
class LocalisationResult:
    """Per-image localisation scores; ``energy`` is NaN-free: images with no positive map are counted apart."""

    method: str
    energy: list[float | None]
    hits: list[bool]
    chance: list[float]
    complete: bool = True

    @property
    def mean_energy(self) -> float:
        """Mean share inside the mask over images with a positive map (0.0 if none had one)."""
        vals = [e for e in self.energy if e is not None]
        return float(np.mean(vals)) if vals else 0.0

    @property
    def pointing_accuracy(self) -> float:
        return float(np.mean(self.hits)) if self.hits else 0.0

    @property
    def mean_chance(self) -> float:
        return float(np.mean(self.chance)) if self.chance else 0.0

    @property
    def no_evidence(self) -> int:
        return sum(e is None for e in self.energy)


def localisation(
    model: nn.Module,
    images: torch.Tensor,
    masks: np.ndarray | torch.Tensor,
    labels: torch.Tensor | None = None,
    method: str = "gradcam",
    layer: str | None = None,
    tolerance: int | None = None,
    progress: ProgressFn | None = None,
) -> LocalisationResult:
    """Localisation scores of a method over a batch of images with object masks (N, H, W).

    Explains the true label when ``labels`` are given, else the prediction. The model is not modified.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    masks = np.asarray(masks).astype(bool)
    if images.ndim != 4 or masks.shape != (images.shape[0], *images.shape[-2:]):
        raise ValueError(f"expected images (N, C, H, W) and masks (N, H, W), got {tuple(images.shape)}, {masks.shape}")
    result = LocalisationResult(method, [], [], [])
    for i in range(len(images)):
        target = None if labels is None else int(labels[i])
        m = METHODS[method](model, images[i], layer, target)
        result.energy.append(energy_inside(m, masks[i]))
        result.hits.append(pointing_hit(m, masks[i], tolerance))
        result.chance.append(float(masks[i].mean()))
        if progress is not None:
            progress(i + 1, len(images))
    return result
