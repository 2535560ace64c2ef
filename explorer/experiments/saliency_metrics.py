"""Four scores of a saliency map, each as its paper defines it, on batches of maps.

- Pointing game (Zhang et al. 2018, "Top-down Neural Attention by Excitation Backprop"): a hit when the map's
  maximum lies on the object, within a tolerance: the paper's 15 pixels on images about 500 pixels a side, 3% of
  the side (``trust.default_tolerance``: 1 pixel at 24). A map that peaks at random hits as often as the share of
  pixels within that tolerance of the outline (``hit_area``): the random map's expected score.
- Mass in the outline (relevance mass accuracy, Arras, Osman and Samek 2022, "CLEVR-XAI"): the share of the
  map's positive mass inside the true outline.
- Deletion and insertion (Petsiuk, Das and Saenko 2018, "RISE", section 4.2): change the pixels in the map's
  order, most important first, ``step`` pixels at a time, and record the explained class's probability after
  each step; the score is the area under that curve, x from 0 to 1, by the trapezoidal rule (RISE's ``auc``).
  Deletion replaces pixels with the baseline (lower is better); insertion starts from the baseline and puts
  pixels back (higher is better).
- The same two curves with ROAD's removal (Rong et al. 2022): a removed pixel is filled from its neighbours,
  with a little noise (``saliency_road.impute``), so the shape of what is removed no longer shows. Insertion is
  then ROAD's least-relevant-first curve read backwards (the same images, the same area).

The mean-colour baseline is the dataset's mean colour (0 after normalisation), not RISE's blur for insertion: a shape is
a flat colour on a flat background, so a blurred copy still shows its colour and rough outline, and insertion
would start with much of the answer given. The mean colour carries neither, and it is the baseline that
Integrated Gradients and Occlusion already use in ``explorer.interpret.methods`` (which favours those two a little:
they were computed against the very image the curves move towards).

Ties in a map (Grad-CAM's zeros, a flat region) are broken in a seeded random order, not row by row, so a
map that says nothing about some pixels does not get a free ordering from the image's layout.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from explorer.interpret.trust import default_tolerance, energy_inside, hit_zone, pointing_hit

Fill = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (images (N, C, H, W), removed (N, 1, H, W)) -> inputs


def pointing_game(maps: np.ndarray, masks: np.ndarray, tolerance: int | None = None) -> np.ndarray:
    """(B,) bool: whether each map's maximum falls on (within ``tolerance`` pixels of) its mask."""
    tol = default_tolerance(max(masks.shape[-2:])) if tolerance is None else tolerance
    return np.array([pointing_hit(m, k, tol) for m, k in zip(maps, masks, strict=True)], dtype=bool)


def hit_area(masks: np.ndarray, tolerance: int) -> float:
    """The mean share of pixels within ``tolerance`` of each mask: a random peak's chance of a pointing-game hit."""
    return float(np.mean([hit_zone(k, tolerance).mean() for k in masks]))


def mass_in_mask(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(B,) share of each map's positive mass inside its mask; 0 for a map with no positive mass (nothing inside)."""
    out = [energy_inside(m, k) for m, k in zip(maps, masks, strict=True)]
    return np.array([0.0 if e is None else e for e in out], dtype=np.float64)


def pixel_ranks(maps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(B, H*W) int: each pixel's place in its map's order, 0 for the most important; ties in random order."""
    flat = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1)
    order = np.lexsort((rng.random(flat.shape), -flat), axis=-1)  # last key first: value, then the random tie key
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(flat.shape[1])[None, :].repeat(len(flat), 0), axis=-1)
    return ranks


def curve_steps(pixels: int, steps: int) -> tuple[int, int]:
    """(pixels per step, number of steps) as RISE: ``step`` pixels at a time until every pixel has changed."""
    step = -(-pixels // steps)
    return step, -(-pixels // step)


def auc(curve: np.ndarray) -> np.ndarray:
    """Area under curves sampled evenly on [0, 1] (last axis): RISE's ``(sum - first/2 - last/2) / (n - 1)``."""
    curve = np.asarray(curve, dtype=np.float64)
    return (curve.sum(-1) - curve[..., 0] / 2 - curve[..., -1] / 2) / (curve.shape[-1] - 1)


def constant_fill(baseline: torch.Tensor | float) -> Fill:
    """Removed pixels become ``baseline`` (a number, or a tensor broadcast to one image): RISE's removal."""

    def fill(images: torch.Tensor, removed: torch.Tensor) -> torch.Tensor:
        return torch.where(removed, torch.as_tensor(baseline, dtype=images.dtype), images)

    return fill


def causal_curves(
    predict: Callable[[torch.Tensor, np.ndarray], np.ndarray],
    x: torch.Tensor,
    baseline: torch.Tensor | float | Fill,
    ranks: np.ndarray,
    step: int,
    batch: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion curves of several maps per image, in as few forward passes as the curves need.

    Args:
        predict: (inputs (N, C, H, W), images (N,)) -> (N,) numpy: the probability of the class explained for
            image ``images[j]`` given input j (each input is a changed copy of that image).
        x: (B, C, H, W) the images.
        baseline: what a removed pixel becomes: a value (broadcast to x), or a ``Fill`` such as ROAD's imputation.
        ranks: (M, B, H*W) from ``pixel_ranks``, one row per method and image.
        step: pixels changed per step.
    Returns:
        (deletion, insertion), each (M, B, n + 1) probabilities for 0, step, 2 step, ... pixels changed.
        The endpoints (the image itself, every pixel removed) are the same for every map: computed once.
    """
    fill = baseline if callable(baseline) else constant_fill(baseline)
    m, b, pixels = ranks.shape
    n = -(-pixels // step)
    everything = torch.ones(b, 1, *x.shape[-2:], dtype=torch.bool)
    ends = predict(torch.cat([x, fill(x, everything)]), np.concatenate([np.arange(b), np.arange(b)]))  # (2B,)
    full, empty = ends[:b], ends[b:]
    deletion = np.empty((m, b, n + 1))
    insertion = np.empty((m, b, n + 1))
    deletion[:, :, 0], deletion[:, :, n] = full, empty
    insertion[:, :, 0], insertion[:, :, n] = empty, full
    jobs = [(k, i) for k in range(m) for i in range(1, n)]  # (map, step) pairs between the endpoints
    r = torch.as_tensor(ranks).view(m, b, 1, *x.shape[-2:])
    per = max(1, batch // (2 * b))
    for start in range(0, len(jobs), per):
        chunk = jobs[start : start + per]
        removed = []
        for k, i in chunk:
            changed = r[k] < i * step  # (B, 1, H, W): the first i steps' pixels
            removed += [changed, ~changed]  # deletion removes them; insertion has put only them back
        inputs = fill(x.repeat(2 * len(chunk), 1, 1, 1), torch.cat(removed))
        p = predict(inputs, np.tile(np.arange(b), 2 * len(chunk))).reshape(len(chunk), 2, b)
        for (k, i), (d, ins) in zip(chunk, p, strict=True):
            deletion[k, :, i], insertion[k, :, i] = d, ins
    return deletion, insertion
