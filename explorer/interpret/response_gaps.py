"""Whether a residual network's layer responses are smaller than its plain twin's, past a margin from the data.

He et al. 2015 (Fig. 7) found the residual networks' layer responses (the std of each 3x3 layer's output after
batch norm) generally smaller than the plain networks'. Twins have the same layers in the same order, so we compare
them layer by layer: the margin is twice the standard error of the per-layer differences, and only a mean difference
past it is called smaller or larger.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ResponseGap:
    """One depth's twins: mean response std of each, and the margin a difference must pass."""

    depth: int
    plain: float
    residual: float
    margin: float

    @property
    def difference(self) -> float:
        """Plain minus residual: positive when the residual network's responses are the smaller."""
        return self.plain - self.residual

    @property
    def verdict(self) -> str:
        """ "smaller" (the residual's, as in the paper), "larger", or "same" (within the margin)."""
        if self.difference > self.margin:
            return "smaller"
        if self.difference < -self.margin:
            return "larger"
        return "same"


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _variance(values: Sequence[float]) -> float:
    m = _mean(values)
    return sum((v - m) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else math.inf


def response_gap(depth: int, plain: Sequence[float], residual: Sequence[float]) -> ResponseGap:
    """Compare twins' per-layer response stds: paired by layer when they have the same layers, else unpaired."""
    if len(plain) == len(residual):
        diffs = [p - r for p, r in zip(plain, residual, strict=True)]
        se = math.sqrt(_variance(diffs) / len(diffs))
    else:
        se = math.sqrt(_variance(plain) / len(plain) + _variance(residual) / len(residual))
    return ResponseGap(int(depth), _mean(plain), _mean(residual), 2 * se)


def compare_responses(responses: Sequence[tuple[str, bool, int, Sequence[float]]]) -> list[ResponseGap]:
    """One ``ResponseGap`` per depth that has both twins, by depth; ``responses`` are (name, residual, depth, stds)."""
    by_depth: dict[int, dict[bool, Sequence[float]]] = {}
    for _name, residual, depth, stds in responses:
        if len(stds):
            by_depth.setdefault(int(depth), {})[bool(residual)] = list(stds)
    return [response_gap(d, p[False], p[True]) for d, p in sorted(by_depth.items()) if len(p) == 2]
