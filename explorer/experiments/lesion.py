"""Lesion study after Veit et al. 2016, "Residual Networks Behave Like Ensembles of Relatively Shallow Networks".

Remove one residual block at test time (skip its branch F(x), keep the shortcut) and measure test accuracy;
then remove k random blocks at once. A residual net degrades smoothly, a plain net collapses: in the plain
twin a block is the only path, so "removing" it means identity, and blocks that change shape cannot be removed
at all (reported as such, never skipped silently). Always works on a copy: the given model is never touched.
"""

from __future__ import annotations

import copy
import logging
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from math import comb

import numpy as np
import torch
from torch import nn

from explorer.progress import ProgressFn

log = logging.getLogger(__name__)

CANNOT = "cannot be removed (shape changes)"


@dataclass
class BlockLesion:
    """Test accuracy with one block removed; ``accuracy`` is None when it cannot be removed."""

    name: str
    accuracy: float | None
    drop: float | None
    note: str = ""

    @property
    def removable(self) -> bool:
        return self.accuracy is not None


@dataclass
class RemovalPoint:
    """Accuracies for several random sets of ``k`` removed blocks."""

    k: int
    subsets: list[tuple[str, ...]]
    accuracies: list[float]

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def low(self) -> float:
        return float(np.min(self.accuracies))

    @property
    def high(self) -> float:
        return float(np.max(self.accuracies))


@dataclass
class LesionResult:
    """Baseline accuracy, one ``BlockLesion`` per residual block (forward order) and the k-removed curve."""

    model_name: str
    residual: bool
    baseline: float
    n_examples: int
    blocks: list[BlockLesion] = field(default_factory=list)
    removed: list[RemovalPoint] = field(default_factory=list)
    complete: bool = True


def _batches(data, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]] | Iterable:
    """(x, y) tensors -> list of batches; a re-iterable loader stays as it is; a one-shot iterator is kept."""
    if isinstance(data, tuple | list) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        x, y = data
        if x.ndim != 4 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
            raise ValueError(f"expected images (N, C, H, W) and labels (N,), got {tuple(x.shape)}, {tuple(y.shape)}")
        return [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    if iter(data) is data:  # a generator would be empty on the second pass
        return list(data)
    return data


@torch.inference_mode()
def _accuracy(model: nn.Module, batches) -> tuple[float, int]:
    correct = total = 0
    for x, y in batches:
        correct += int((model(x).argmax(dim=1) == y).sum())
        total += len(y)
    if total == 0:
        raise ValueError("no test examples")
    return correct / total, total


def default_ks(n: int, points: int = 8) -> list[int]:
    """Up to ``points`` values of k from 1 to n, evenly spread."""
    if n <= 0:
        return []
    return sorted({int(round(k)) for k in np.linspace(1, n, min(points, n))})


def _subsets(names: list[str], k: int, samples: int, rng: random.Random) -> list[tuple[str, ...]]:
    """Up to ``samples`` distinct random k-subsets (all of them when there are fewer)."""
    want = min(samples, comb(len(names), k))
    seen: list[tuple[str, ...]] = []
    while len(seen) < want:
        s = tuple(sorted(rng.sample(names, k), key=names.index))
        if s not in seen:
            seen.append(s)
    return seen


class _Ticks:
    """Counts evaluations: each call reports one more to ``progress`` and says whether ``stop`` is set."""

    def __init__(self, total: int, progress: ProgressFn | None, stop: threading.Event | None) -> None:
        self.done, self.total, self.progress, self.stop = 0, total, progress, stop

    def __call__(self) -> bool:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)
        return self.stop is not None and self.stop.is_set()


def _remove_each(work: nn.Module, blocks: list, batches, result: LesionResult, tick: _Ticks) -> bool:
    """One ``BlockLesion`` per block, each removed alone; True when stopped."""
    for name, block in blocks:
        if not block.can_bypass:
            result.blocks.append(BlockLesion(name, None, None, CANNOT))
            continue
        work.set_bypass([name])
        acc, _ = _accuracy(work, batches)
        result.blocks.append(BlockLesion(name, acc, result.baseline - acc))
        if tick():
            return True
    return False


def _remove_sets(work: nn.Module, plan: list, batches, result: LesionResult, tick: _Ticks) -> bool:
    """One ``RemovalPoint`` per k, its subsets removed together; True when stopped (the point so far is kept)."""
    for k, subsets in plan:
        point = RemovalPoint(k, [], [])
        result.removed.append(point)
        for s in subsets:
            work.set_bypass(list(s))
            acc, _ = _accuracy(work, batches)
            point.subsets.append(s)
            point.accuracies.append(acc)
            if tick():
                return True
    return False


def lesion_study(
    model: nn.Module,
    data,
    ks: list[int] | None = None,
    samples: int = 3,
    seed: int = 0,
    batch_size: int = 256,
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
) -> LesionResult:
    """Accuracy with each single block removed, and with k random blocks removed.

    Args:
        model: a ``ResNet`` (residual or plain); never modified.
        data: test set as ``(images, labels)`` tensors or a loader of ``(images, labels)`` batches.
        ks: numbers of blocks to remove together (default: up to 8 values from 1 to all removable).
        samples: random subsets per k (seeded by ``seed``).
        progress: called with (evaluations done, evaluations in all).
        stop: a ``threading.Event``; when set, returns what is done with ``complete=False``.
    Returns:
        a ``LesionResult``.
    """
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    batches = _batches(data, batch_size)
    work = copy.deepcopy(model)
    work.eval()
    work.set_bypass([])
    blocks = list(work.blocks())
    removable = [n for n, b in blocks if b.can_bypass]
    ks = default_ks(len(removable)) if ks is None else ks
    bad = [k for k in ks if not 1 <= k <= len(removable)]
    if bad:
        raise ValueError(f"k must be between 1 and {len(removable)} (the removable blocks), got {bad}")
    rng = random.Random(seed)
    plan = [(k, _subsets(removable, k, samples, rng)) for k in ks]
    tick = _Ticks(1 + len(removable) + sum(len(s) for _, s in plan), progress, stop)
    baseline, n = _accuracy(work, batches)
    config = getattr(model, "config", None)
    result = LesionResult(
        model_name=getattr(config, "name", type(model).__name__),
        residual=bool(getattr(config, "residual", True)),
        baseline=baseline,
        n_examples=n,
    )
    if tick() or _remove_each(work, blocks, batches, result, tick) or _remove_sets(work, plan, batches, result, tick):
        result.complete = False
        return result
    log.info("lesion study of %s: baseline %.3f, %d evaluations", result.model_name, baseline, tick.done)
    return result
