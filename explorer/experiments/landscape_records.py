"""What a loss landscape is once computed (``experiments/landscape.py`` computes them): a surface on a grid
(``Landscape``), a line (``LossLine``), their JSON, plain numbers about a surface (``describe``) and the precomputed
ones in a folder (``load_landscapes``). No torch: the pages read them without it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Landscape:
    """Loss on a grid around a network: ``loss[j][i]`` is at (x[i], y[j]); NaN where not computed (stopped)."""

    network: str
    x: list[float]
    y: list[float]
    loss: np.ndarray  # (len(y), len(x))
    center_loss: float
    images: int
    seed: int
    span: float
    complete: bool = True
    wall_s: float = 0.0
    precision: str = "float32"

    def to_dict(self) -> dict:
        rows = [[None if not math.isfinite(v) else float(v) for v in row] for row in self.loss.tolist()]
        return {
            "network": self.network,
            "x": list(self.x),
            "y": list(self.y),
            "loss": rows,
            "center_loss": self.center_loss,
            "images": self.images,
            "seed": self.seed,
            "span": self.span,
            "complete": self.complete,
            "wall_s": round(self.wall_s, 2),
            "precision": self.precision,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Landscape:
        loss = np.array([[np.nan if v is None else v for v in row] for row in d["loss"]], dtype=np.float64)
        return cls(
            d["network"], d["x"], d["y"], loss, d["center_loss"], d["images"], d["seed"], d["span"],
            d.get("complete", True), d.get("wall_s", 0.0), d.get("precision", "float32"),
        )  # fmt: skip


@dataclass
class LossLine:
    """Loss along a line: ``kind`` "init" (alpha 0 = initial weights, 1 = trained) or "direction" (theta + a*d1)."""

    network: str
    kind: str
    alpha: list[float]
    loss: list[float]
    images: int
    seed: int
    complete: bool = True
    wall_s: float = 0.0
    note: str = field(default="")
    precision: str = "float32"

    def to_dict(self) -> dict:
        return {
            "network": self.network,
            "line": self.kind,
            "alpha": list(self.alpha),
            "loss": [None if not math.isfinite(v) else float(v) for v in self.loss],
            "images": self.images,
            "seed": self.seed,
            "complete": self.complete,
            "wall_s": round(self.wall_s, 2),
            "note": self.note,
            "precision": self.precision,
        }

    @classmethod
    def from_dict(cls, d: dict) -> LossLine:
        loss = [math.nan if v is None else v for v in d["loss"]]
        return cls(
            d["network"], d["line"], d["alpha"], loss, d["images"], d["seed"], d.get("complete", True),
            d.get("wall_s", 0.0), d.get("note", ""), d.get("precision", "float32"),
        )  # fmt: skip


def describe(landscape: Landscape, level: float = math.log(10)) -> dict[str, float]:
    """Plain numbers for a surface: the centre's loss, the share of the grid below ``level`` (default ln 10,
    the loss of guessing among ten classes) and below 10, the highest loss, and the local minima of the grid
    (points lower than all eight neighbours; a bowl has one, a chaotic surface many)."""
    z = np.asarray(landscape.loss, dtype=np.float64)
    inner = z[1:-1, 1:-1]
    neighbours = [z[1 + dy : z.shape[0] - 1 + dy, 1 + dx : z.shape[1] - 1 + dx]
                  for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]  # fmt: skip
    minima = np.logical_and.reduce([inner < n for n in neighbours]) if inner.size else np.zeros(0, dtype=bool)
    finite = z[np.isfinite(z)]
    return {
        "center_loss": float(landscape.center_loss),
        "below_level": float((finite < level).mean()) if finite.size else math.nan,
        "below_10": float((finite < 10).mean()) if finite.size else math.nan,  # Li et al.'s plotted range
        "highest": float(finite.max()) if finite.size else math.nan,
        "local_minima": int(minima.sum()),
    }


def load_landscapes(folder: str | Path) -> tuple[list[Landscape], list[LossLine]]:
    """Precomputed surfaces (``<network>.json``) and lines (``<network>.init.json``) in a folder, by depth,
    plain first; empty lists when the folder is missing."""
    folder = Path(folder)
    surfaces, lines = [], []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        d = json.loads(path.read_text())
        if "line" in d:
            lines.append(LossLine.from_dict(d))
        else:
            surfaces.append(Landscape.from_dict(d))

    def order(r) -> tuple:
        kind, _, depth = r.network.partition("-")
        return (int(depth) if depth.isdigit() else 0, kind != "Plain", r.network)

    return sorted(surfaces, key=order), sorted(lines, key=order)
