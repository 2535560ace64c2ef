"""What the saliency benchmark's numbers allow one to say, with their uncertainty.

- A network near chance (at most a tenth of the way from guessing to every image right, on the benchmark's
  images: 19% with ten classes) explains nothing: its maps stay in the tables, out of every verdict and mean.
- The centre map against each method at the pointing game: the difference of two hit rates on the same n
  images, with a 95% interval from their binomial standard errors (1.96 sqrt(p(1-p)/n + q(1-q)/n); the images
  are shared, so this is conservative). A difference whose interval holds 0 is a tie.
- Trained against randomised networks (Adebayo et al. 2018), means over the networks that learned, with the
  number of networks and images behind each mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from explorer.experiments.saliency_maps import BASELINES, METHOD_KEYS

Z95 = 1.96
SHAPES_CLASSES = 10  # results written before "classes" was recorded are all on the ten built-in shapes


def chance(result: dict) -> float:
    """The accuracy of guessing: one over the number of classes."""
    return 1.0 / result.get("classes", SHAPES_CLASSES)


def near_chance(result: dict) -> bool:
    """Whether a network's accuracy on the benchmark's images is at most a tenth of the way from guessing to 100%."""
    c = chance(result)
    return result["accuracy"] <= c + (1 - c) / 10


def images_in(result: dict, subset: str) -> int:
    """How many images a subset's means are taken over."""
    return int(result["correct"] if subset == "methods_correct" else result["images"])


@dataclass(frozen=True)
class Versus:
    """A method's pointing game against the centre map's on one network: the difference and its 95% interval."""

    method: str
    score: float
    centre: float
    low: float
    high: float
    images: int

    @property
    def verdict(self) -> str:
        """'centre' when the centre map is better beyond the interval, 'method' when the method is, else 'tie'."""
        return "method" if self.low > 0 else "centre" if self.high < 0 else "tie"


def centre_comparison(result: dict, subset: str = "methods") -> list[Versus]:
    """Each method's pointing game minus the centre map's, with a 95% interval ([] when there are no scores)."""
    scores = result.get(subset) or {}
    n = images_in(result, subset)
    centre = (scores.get("center") or {}).get("pointing_game")
    if centre is None or n == 0:
        return []
    out = []
    for name, s in scores.items():
        if name in BASELINES or s is None:
            continue
        p = s["pointing_game"]
        half = Z95 * math.sqrt((p * (1 - p) + centre * (1 - centre)) / n)
        out.append(Versus(name, p, centre, p - centre - half, p - centre + half, n))
    return out


def centre_wins(result: dict, subset: str = "methods") -> list[Versus]:
    """The comparisons where the centre map ties or beats the method (never for a network near chance)."""
    if near_chance(result):
        return []
    return [v for v in centre_comparison(result, subset) if v.verdict != "method"]


@dataclass(frozen=True)
class Mean:
    """A metric's mean over networks, with how many networks and images it rests on."""

    value: float
    networks: int
    images: int


def randomisation_means(results: list[dict], metric: str) -> dict[str, tuple[Mean | None, Mean | None]]:
    """Per method, ``metric`` over all images, averaged over the trained networks that learned and over the
    randomised ones (Adebayo et al. 2018: a score that hardly moves when the weights go measures the image,
    not the network). None where there is no such network."""
    out = {}
    for name in METHOD_KEYS:
        pair = []
        for weights in ("trained", "randomised"):
            kept = [r for r in results if r["weights"] == weights and (weights != "trained" or not near_chance(r))]
            kept = [r for r in kept if (r.get("methods") or {}).get(name)]
            pair.append(
                Mean(
                    float(np.mean([r["methods"][name][metric] for r in kept])),
                    len(kept),
                    sum(r["images"] for r in kept),
                )
                if kept
                else None
            )
        out[name] = (pair[0], pair[1])
    return out


def score_range(results: list[dict], methods: tuple[str, ...], metric: str, weights: str) -> tuple[float, float] | None:
    """The lowest and highest ``metric`` of ``methods`` over the networks with ``weights`` (None if none)."""
    values = [
        r["methods"][m][metric] for r in results if r["weights"] == weights for m in methods if r["methods"].get(m)
    ]
    return (min(values), max(values)) if values else None


def random_gap(result: dict, metric: str, subset: str = "methods") -> tuple[str, float] | None:
    """The method that beats the random map by most at ``metric`` (lower is better for deletion) and by how much."""
    scores = result.get(subset) or {}
    if not scores.get("random"):
        return None
    sign = -1.0 if "deletion" in metric else 1.0
    gaps = {m: sign * (s[metric] - scores["random"][metric]) for m, s in scores.items() if m not in BASELINES and s}
    if not gaps:
        return None
    best = max(gaps, key=gaps.get)
    return best, gaps[best]
