"""Which saliency map can you trust? Every method scored on held-out shapes with their true outlines.

For one network of a saved run (trained, or with every weight randomised as in Adebayo et al. 2018), on
``images`` held-out shapes: the maps of Explain's methods (``saliency_maps``) and of two maps that explain nothing,
each scored by the pointing game, the mass in the outline, and the deletion and
insertion areas (``saliency_metrics``), with removed pixels set to the mean colour and, apart, filled in by
ROAD's noisy linear imputation (``saliency_road``). Every map explains the image's true class. Scores are averaged over
all images and, apart, over the images the network classifies correctly.

The same seed gives the same numbers: it picks the images, the random maps, the order of tied pixels and
the randomised weights. ``progress(done, total)`` is called after each chunk of images; ``stop`` (an Event) is
checked before each, and a stop returns the scores of the images done so far (``complete`` False).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from explorer.data.datasets import load_dataset
from explorer.experiments.saliency_maps import BASELINES, METHOD_KEYS, method_maps
from explorer.experiments.saliency_metrics import (
    auc,
    causal_curves,
    curve_steps,
    hit_area,
    mass_in_mask,
    pixel_ranks,
    pointing_game,
)
from explorer.experiments.saliency_road import NOISE, impute
from explorer.interpret.trust import default_tolerance, recompute_bn_statistics, top_overlap
from explorer.progress import ProgressFn

METRICS = ("pointing_game", "mass_in_mask", "deletion_auc", "insertion_auc", "road_deletion_auc", "road_insertion_auc")
CURVE_STEPS = 12  # steps from the image to the baseline, 48 pixels each at 24 x 24 (RISE: 224 steps at 224 x 224)
CHUNK = 64  # images per chunk: the unit of progress and of Stop
EXAMPLES = 4  # images where the real methods disagree most, kept with their maps (0..255, as the image)
WEIGHTS = ("trained", "randomised")


class NoOutlines(ValueError):
    """The run's data have no true outlines: the benchmark needs the built-in shapes."""


def randomised(model: nn.Module, calibration: torch.Tensor, seed: int) -> nn.Module:
    """The same architecture with every weight freshly drawn by its own initialiser, batch-norm statistics from
    ``calibration`` (as trust's cascading randomisation does for each layer it re-draws)."""
    from explorer.models.resnet import build_resnet

    fresh = build_resnet(model.config, seed=seed)
    recompute_bn_statistics(fresh, [fresh], calibration)
    return fresh


def _probabilities(model: nn.Module, targets: torch.Tensor) -> Callable:
    """The curves' forward passes: bfloat16 autocast (about twice as fast on CPU, probabilities to ~3 digits,
    as the loss landscapes' ``--precision bfloat16``); the maps themselves are computed in float32."""

    def predict(inputs: torch.Tensor, rows: np.ndarray) -> np.ndarray:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=inputs.device.type == "cpu"):
            p = torch.softmax(model(inputs).float(), dim=1)
        return p[torch.arange(len(inputs)), targets[torch.as_tensor(rows)]].numpy()

    return predict


def _disagreement(maps: dict[str, np.ndarray], i: int) -> float:
    """How little the real methods agree on image i: 1 - mean pairwise overlap of their top 10% pixels."""
    names = [m for m in maps if m not in BASELINES]
    pairs = [(a, b) for k, a in enumerate(names) for b in names[k + 1 :]]
    return 1.0 - float(np.mean([top_overlap(maps[a][i], maps[b][i]) for a, b in pairs]))


def _road_fill(noise: torch.Tensor, rng: np.random.Generator):
    """ROAD's imputation with its noise drawn from a generator seeded by ``rng`` (the same seed, the same noise)."""
    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
    return lambda images, removed: impute(images, removed, noise, generator)


def score_chunk(
    model: nn.Module,
    x: torch.Tensor,
    targets: torch.Tensor,
    masks: np.ndarray,
    rng: np.random.Generator,
    noise: torch.Tensor | float = 0.0,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray], np.ndarray]:
    """Per-image scores of every method on one chunk: ({method: {metric: (B,)}}, {method: maps}, probs (B, K)).

    ``noise`` is ROAD's noise in x's units (per channel: 0.01 over the normalisation's std)."""
    model.eval()
    with torch.inference_mode():
        probs = torch.softmax(model(x), dim=1).numpy()
    maps = {name: method_maps(name, model, x, targets, rng) for name in METHOD_KEYS}
    step, _ = curve_steps(masks[0].size, CURVE_STEPS)
    ranks = np.stack([pixel_ranks(maps[name], rng) for name in METHOD_KEYS])  # (M, B, H*W)
    predict = _probabilities(model, targets)
    deletion, insertion = causal_curves(predict, x, 0.0, ranks, step)
    road_deletion, road_insertion = causal_curves(predict, x, _road_fill(noise, rng), ranks, step)
    scores = {}
    tol = default_tolerance(max(masks.shape[-2:]))
    for k, name in enumerate(METHOD_KEYS):
        scores[name] = {
            "pointing_game": pointing_game(maps[name], masks, tol).astype(np.float64),
            "mass_in_mask": mass_in_mask(maps[name], masks),
            "deletion_auc": auc(deletion[k]),
            "insertion_auc": auc(insertion[k]),
            "road_deletion_auc": auc(road_deletion[k]),
            "road_insertion_auc": auc(road_insertion[k]),
        }
    return scores, maps, probs


def _means(scores: dict[str, dict[str, np.ndarray]], keep: np.ndarray) -> dict[str, dict[str, float] | None]:
    if not keep.any():
        return {name: None for name in scores}
    return {name: {m: round(float(v[keep].mean()), 4) for m, v in per.items()} for name, per in scores.items()}


class _Example(NamedTuple):
    """An image the network classifies correctly, with its chunk's maps: a candidate for the examples."""

    disagreement: float  # 1 - the real methods' mean pairwise overlap (``_disagreement``)
    index: int  # in the data set
    row: int  # in the chunk, and so in ``maps``
    maps: dict[str, np.ndarray]  # method -> (chunk, H, W)
    predicted: int
    probs: np.ndarray  # (K,)


@dataclass
class _Tally:
    """The per-image scores of the chunks done so far, and the examples where the methods disagree most."""

    per: dict[str, dict[str, list[np.ndarray]]] = field(
        default_factory=lambda: {name: {m: [] for m in METRICS} for name in METHOD_KEYS}
    )
    correct: list[np.ndarray] = field(default_factory=list)
    examples: list[_Example] = field(default_factory=list)
    done: int = 0

    def add(self, lo: int, scores: dict, maps: dict[str, np.ndarray], probs: np.ndarray, labels: np.ndarray) -> None:
        """One chunk's ``score_chunk`` output; its images start at ``lo``."""
        for name in METHOD_KEYS:
            for m in METRICS:
                self.per[name][m].append(scores[name][m])
        right = probs.argmax(1) == labels
        self.correct.append(right)
        for j in np.flatnonzero(right):  # examples among correct answers: disagreement is then about the maps
            pred = int(probs[j].argmax())
            self.examples.append(_Example(_disagreement(maps, j), lo + j, j, dict(maps), pred, probs[j]))
        self.examples = sorted(self.examples, key=lambda e: -e.disagreement)[:EXAMPLES]
        self.done = lo + len(labels)

    def scores(self) -> dict[str, dict[str, np.ndarray]]:
        return {name: {m: np.concatenate(v) for m, v in self.per[name].items()} for name in METHOD_KEYS}


def _example(ds, e: _Example) -> dict:
    image = (ds.images[e.index].float() / (255.0 if ds.images.dtype == torch.uint8 else 1.0)).permute(1, 2, 0)
    return {
        "image": (image.clamp(0, 1).numpy() * 255).round().astype(int).tolist(),
        "mask": ds.masks[e.index].int().tolist(),
        "label": ds.info.classes[int(ds.labels[e.index])],
        "predicted": ds.info.classes[e.predicted],
        "probability": round(float(e.probs[e.predicted]), 3),
        "disagreement": round(e.disagreement, 3),
        "maps": {
            name: np.round(m[e.row] * 255).astype(int).tolist() for name, m in e.maps.items() if name not in BASELINES
        },
    }


def _open_run(run_dir: str | Path, network: str, images: int, weights: str):
    """The saved run, after checking the arguments: ValueError, or ``NoOutlines`` for data other than the shapes."""
    from explorer.training.runs import load_run

    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    if not isinstance(images, int) or images < 1:
        raise ValueError(f"images must be a positive integer, got {images!r}")
    run = load_run(run_dir)
    if run.train.dataset != "shapes":
        raise NoOutlines(
            f"the saliency benchmark needs the built-in shapes, whose true outlines it scores against; "
            f"{run.name} was trained on {Path(str(run.train.dataset)).name}"
        )
    if network not in run.model_configs:
        raise ValueError(f"no network {network!r} in {run.name}; it has {list(run.model_configs)}")
    return run


def _network(run, network: str, weights: str, calibration: torch.Tensor, seed: int) -> nn.Module:
    """The run's network as trained, or with every weight randomised (``randomised``)."""
    model = run.load_models()[network]
    return randomised(model, calibration, seed) if weights == "randomised" else model


def run_saliency(
    run_dir: str | Path,
    network: str,
    images: int = 256,
    seed: int = 0,
    weights: str = "trained",
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
    data_root: str | None = None,
) -> dict | None:
    """The benchmark of one network of a saved run: the CLI's JSON (see the module docstring and the README).

    Returns None when stopped before the first chunk finished. Raises ``NoOutlines`` for a run whose data
    are not the built-in shapes, ValueError for an unknown network or weights.
    """
    run = _open_run(run_dir, network, images, weights)
    start = time.perf_counter()
    ds = load_dataset("shapes", "test", n=images, size=run.train.image_size, seed=seed, root=data_root)
    x_all, y_all = ds.batch(torch.arange(len(ds)))
    masks_all = ds.masks.numpy()
    model = _network(run, network, weights, x_all[:128], seed + 1)
    rng = np.random.default_rng(seed)
    noise = NOISE / torch.tensor(ds.info.std, dtype=x_all.dtype)  # ROAD's 0.01 on [0, 1] images, normalised
    tally = _Tally()
    for lo in range(0, len(ds), CHUNK):
        if stop is not None and stop.is_set():
            break
        idx = slice(lo, lo + CHUNK)
        tally.add(lo, *score_chunk(model, x_all[idx], y_all[idx], masks_all[idx], rng, noise), y_all[idx].numpy())
        if progress is not None:
            progress(tally.done, len(ds))
    if tally.done == 0:
        return None
    done, right, size = tally.done, np.concatenate(tally.correct), int(x_all.shape[-1])
    scores, tol = tally.scores(), default_tolerance(size)
    return {
        "network": network,
        "weights": weights,
        "run": run.name,
        "images": done,
        "seed": seed,
        "image_size": size,
        "mask_area": round(float(masks_all[:done].mean()), 4),
        "accuracy": round(float(right.mean()), 4),
        "classes": len(ds.info.classes),
        "correct": int(right.sum()),
        "baseline": "mean colour",
        "road_noise": NOISE,
        "curve_steps": CURVE_STEPS,
        "tolerance_px": tol,
        "hit_area": round(hit_area(masks_all[:done], tol), 4),
        "methods": _means(scores, np.ones(done, dtype=bool)),
        "methods_correct": _means(scores, right),
        "examples": [_example(ds, e) for e in tally.examples],
        "complete": done == len(ds),
        "wall_s": round(time.perf_counter() - start, 2),
    }


def _order(result: dict) -> tuple:
    kind, _, depth = result["network"].partition("-")
    return (result["weights"] != "trained", int(depth) if depth.isdigit() else 0, kind != "Plain", kind)


def load_saliency(folder: str | Path) -> list[dict]:
    """The precomputed results in a folder (``<network>.json``, ``<network>.random.json``), trained first, then
    by depth, plain before residual; [] when there are none."""
    import json

    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted((json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))), key=_order)
