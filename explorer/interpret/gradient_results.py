"""What the gradient probes of ``explorer.interpret.gradients`` return, and how they read: a sweep's per-layer norms
(``SweepResult``, ``first_last_ratios``) and the shattered-gradients probe (``ShatteredResult``). Numpy only, no
torch, so pages can show the precomputed sweeps without importing torch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class SweepResult:
    """One network of a sweep: its name, depth, kind and per-layer values (forward order).

    ``preact``: He et al. 2016's pre-activation blocks (sweeps saved before them load as False).
    """

    name: str
    depth: int
    residual: bool
    layers: list[str]
    values: list[float]
    preact: bool = False


def first_last_ratios(results: Sequence[SweepResult]) -> list[dict]:
    """For each network of a sweep: its first layer's gradient norm, its last's, and first / last.

    A ratio far above 1 means the gradient grows towards the input (exploding), far below 1 that it
    shrinks (vanishing). Rows come in the sweep's order: ``name``, ``depth``, ``residual``, ``preact``,
    ``first_layer``, ``last_layer``, ``first``, ``last``, ``ratio``.
    """
    rows = []
    for r in results:
        if not r.values:
            continue
        first, last = float(r.values[0]), float(r.values[-1])
        rows.append(
            {
                "name": r.name,
                "depth": r.depth,
                "residual": r.residual,
                "preact": bool(getattr(r, "preact", False)),
                "first_layer": r.layers[0],
                "last_layer": r.layers[-1],
                "first": first,
                "last": last,
                "ratio": first / last if last > 0 else float("inf"),
            }
        )
    return rows


def autocorrelation(g: np.ndarray, max_lag: int) -> np.ndarray:
    """Normalised autocorrelation of a series at lags 0..max_lag (1 at lag 0; ~0 beyond for white noise)."""
    g = np.asarray(g, dtype=np.float64) - np.mean(g)
    denom = float(np.dot(g, g))
    if denom == 0.0:
        return np.zeros(max_lag + 1)
    return np.array([np.dot(g[: len(g) - k], g[k:]) / denom for k in range(max_lag + 1)])


@dataclass
class ShatteredResult:
    """``t`` (n,) line positions; ``grad`` (n,) the derivative of the output along the line;
    ``acf`` (max_lag+1,) its autocorrelation; ``cosine`` (max_lag+1,) mean cosine similarity of the full
    input gradients k points apart; ``lag1`` = acf[1]; ``residual`` None for a model without a config."""

    name: str
    t: np.ndarray
    grad: np.ndarray
    acf: np.ndarray
    cosine: np.ndarray
    residual: bool | None = None

    @property
    def lag1(self) -> float:
        return float(self.acf[1])

    @property
    def mean_abs_slope(self) -> float:
        """Mean |d output / dt| along the line: the size the unit-std traces of the chart hide."""
        return float(np.mean(np.abs(self.grad)))
