"""Can a saliency map be trusted? Two checks.

1. Cascading model randomisation (Adebayo et al. 2018, "Sanity Checks for Saliency Maps"): re-initialise the
   layers of a copy of the model from the top (fc) down to the stem, block by block, and compare each map with
   the original by Spearman rank correlation. A method that explains the model must change as its weights go;
   one whose map survives randomisation is showing the input, not the model.
2. Localisation on the built-in shapes dataset, whose ground-truth masks say where the object is: the share of
   positive saliency inside the mask ("energy-based pointing", Wang et al. 2020, Score-CAM) and the pointing
   game (Zhang et al. 2016: is the map's maximum on the object, within a small tolerance).

The metric functions take plain arrays, so they work with any map and any mask.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from explorer.attribution import METHODS, Progress, as_batch, block_names

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


@torch.no_grad()
def reinitialise(module: nn.Module, generator: torch.Generator) -> None:
    """Fresh random weights for every conv and linear layer inside ``module``; batch norms back to identity.

    Conv and linear weights are drawn as PyTorch's default init draws them (Kaiming-uniform, a=sqrt(5)),
    from the given generator; BN layers get weight 1, bias 0 and fresh running statistics.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            fan_in = m.weight[0].numel()
            bound = 1.0 / fan_in**0.5  # kaiming_uniform_(a=sqrt(5)) gives bound sqrt(6 / ((1 + 5) * fan_in))
            m.weight.copy_((torch.rand(m.weight.shape, generator=generator) * 2 - 1) * bound)
            if m.bias is not None:
                m.bias.copy_((torch.rand(m.bias.shape, generator=generator) * 2 - 1) * bound)
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()


@dataclass
class RandomisationResult:
    """The cascading randomisation curve: step 0 is the trained model ('original')."""

    method: str
    steps: list[str]
    spearman: list[float]
    pearson: list[float]
    top_overlap: list[float]
    maps: list[np.ndarray] = field(repr=False)
    complete: bool = True


def cascading_randomisation(
    model: nn.Module,
    x: torch.Tensor,
    method: str = "gradcam",
    layer: str | None = None,
    target: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    stop=None,
) -> RandomisationResult:
    """Adebayo et al.'s cascading model-randomisation test on a copy of ``model``.

    Args:
        model: a classifier; never modified.
        x: one preprocessed image (C, H, W) or (1, C, H, W).
        method: a key of ``attribution.METHODS``.
        layer: Grad-CAM's layer (default: the last block), used by CAM methods.
        target: the class; None uses the original model's prediction for every step.
        seed: seed of the new random weights.
        progress: called with (steps done, steps in all).
        stop: a ``threading.Event``; when set, the result so far comes back with ``complete=False``.
    Returns:
        a ``RandomisationResult``, one entry per step, the original first.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    fn: Callable = METHODS[method]
    x = as_batch(x, model)  # on the model's device
    work = copy.deepcopy(model)
    if target is None:
        work.eval()
        with torch.no_grad():
            target = int(work(x).argmax(dim=1).item())
    steps = randomisation_steps(work)
    gen = torch.Generator().manual_seed(seed)
    original = fn(work, x, layer, target)
    result = RandomisationResult(method, ["original"], [1.0], [1.0], [1.0], [original])
    for i, (step, modules) in enumerate(steps):
        if stop is not None and stop.is_set():
            result.complete = False
            break
        for name in modules:
            reinitialise(work.get_submodule(name), gen)
        m = fn(work, x, layer, target)
        result.steps.append(step)
        result.maps.append(m)
        result.spearman.append(spearman(original, m))
        result.pearson.append(pearson(original, m))
        result.top_overlap.append(top_overlap(original, m))
        if progress is not None:
            progress(i + 1, len(steps))
    return result


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


def default_tolerance(size: int) -> int:
    """The pointing game's 15 pixels at 224 (Zhang et al. 2016), scaled to the image: 2 at 32."""
    return max(1, round(15 * size / 224))


def pointing_hit(saliency: np.ndarray, mask: np.ndarray, tolerance: int | None = None) -> bool:
    """Whether the map's maximum lies within ``tolerance`` pixels (Euclidean) of the mask.

    A map without positive evidence points nowhere: a miss. Ties take the first maximum in row order.
    """
    saliency, mask = _check_pair(saliency, mask)
    if not mask.any() or saliency.max() <= 0:
        return False
    tol = default_tolerance(max(mask.shape)) if tolerance is None else tolerance
    i, j = np.unravel_index(int(np.argmax(saliency)), saliency.shape)
    ys, xs = np.nonzero(mask)
    return bool(((ys - i) ** 2 + (xs - j) ** 2).min() <= tol * tol)


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
    progress: Progress | None = None,
    stop=None,
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
        if stop is not None and stop.is_set():
            result.complete = False
            break
        target = None if labels is None else int(labels[i])
        m = METHODS[method](model, images[i], layer, target)
        result.energy.append(energy_inside(m, masks[i]))
        result.hits.append(pointing_hit(m, masks[i], tolerance))
        result.chance.append(float(masks[i].mean()))
        if progress is not None:
            progress(i + 1, len(images))
    return result
