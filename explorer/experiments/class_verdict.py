"""What a class experiment's numbers say: the summary per depth and kind (median and quartiles), the verdict in
plain words, and the table as CSV.

Per depth: is the gap between the plain and the residual medians of the final training loss larger than the spread
across seeds (the wider of the two interquartile ranges), and after how many seeds it became so and stayed so,
taking the pairs in the order they finished. Fewer than ``MIN_SEEDS`` pairs at a depth say nothing yet. The words
claim only that comparison: final training losses, this recipe, these seeds.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

from explorer.experiments.class_experiment import KINDS, MIN_SEEDS, Experiment, PairResult
from explorer.i18n import N_, message

HEAD = N_("Runs so far: {runs}, each pair a plain and a residual network.")
NONE_YET = N_("{depth} layers: no pairs yet.")
TOO_FEW = N_("{depth} layers: {n} of the {min} pairs needed before the spread across seeds means anything.")
APART = {
    "plain": N_(
        "{depth} layers: the plain network's median final loss ({high:.3f}) is above the residual one's ({low:.3f}) "
        "by {gap:.3f}, more than the spread across seeds ({spread:.3f}); so it has been since seed {since} of {n}."
    ),
    "residual": N_(
        "{depth} layers: the residual network's median final loss ({high:.3f}) is above the plain one's ({low:.3f}) "
        "by {gap:.3f}, more than the spread across seeds ({spread:.3f}); so it has been since seed {since} of {n}."
    ),
}
TOGETHER = N_(
    "{depth} layers: the medians differ by {gap:.3f} (plain {plain:.3f}, residual {residual:.3f}), no more than the "
    "spread across seeds ({spread:.3f}): {n} seeds do not tell them apart yet."
)
SCOPE = N_(
    "Spread: the wider of the two interquartile ranges. This compares final training losses after {steps} steps "
    "of this recipe; it says nothing of longer training or other data."
)
CSV_HEADER = ("depth", "kind", "seed", "final_loss", "heldout_acc", "steps", "student")


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile by linear interpolation between order statistics (numpy's default, Hyndman and Fan's
    type 7): the position ``q * (n - 1)`` in the sorted values."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def spread(values: list[float]) -> dict:
    """``n, median_loss, q25, q75`` of some final losses."""
    return {
        "n": len(values),
        "median_loss": quantile(values, 0.5),
        "q25": quantile(values, 0.25),
        "q75": quantile(values, 0.75),
    }


def summary(exp: Experiment) -> dict[int, dict[str, dict]]:
    """Per depth and kind (``plain``, ``residual``): ``n, median_loss, q25, q75`` of the final training losses."""
    return {d: {k: spread([r.final_loss[k] for r in exp.results if r.depth == d]) for k in KINDS} for d in exp.depths}


@dataclass(frozen=True)
class DepthVerdict:
    """What the pairs at one depth say: ``apart`` when |gap| > spread; ``since``: the seed count from which on it
    has held (None if it does not hold now)."""

    depth: int
    n: int
    gap: float  # plain median - residual median
    spread: float
    apart: bool
    since: int | None


def _gap(pairs: list[PairResult]) -> tuple[float, float]:
    """(plain median - residual median, the wider interquartile range) of ``pairs``."""
    s = {k: spread([p.final_loss[k] for p in pairs]) for k in KINDS}
    widest = max(s[k]["q75"] - s[k]["q25"] for k in KINDS)
    return s["plain"]["median_loss"] - s["residual"]["median_loss"], widest


def depth_verdict(exp: Experiment, depth: int) -> DepthVerdict:
    """The verdict at ``depth``, from its pairs in the order they finished."""
    pairs = [r for r in exp.results if r.depth == depth]
    n = len(pairs)
    if n < MIN_SEEDS:
        return DepthVerdict(depth, n, math.nan, math.nan, False, None)
    gap, widest = _gap(pairs)
    apart = abs(gap) > widest
    since = None
    if apart:
        since = n
        for k in range(n - 1, MIN_SEEDS - 1, -1):  # back from n while the first k pairs say the same
            g, w = _gap(pairs[:k])
            if not (abs(g) > w and (g > 0) == (gap > 0)):
                break
            since = k
    return DepthVerdict(depth, n, gap, widest, apart, since)


def verdict(exp: Experiment) -> list[tuple[str, dict]]:
    """The verdict as ``i18n.message`` pairs, one sentence each: the count, one per depth, what it covers."""
    out = [message(HEAD, runs=2 * len(exp.results), pairs=len(exp.results))]
    for d in exp.depths:
        v = depth_verdict(exp, d)
        if v.n == 0:
            out.append(message(NONE_YET, depth=d))
        elif v.n < MIN_SEEDS:
            out.append(message(TOO_FEW, depth=d, n=v.n, min=MIN_SEEDS))
        elif v.apart:
            s = spread([r.final_loss["plain"] for r in exp.results if r.depth == d])["median_loss"]
            high_kind = "plain" if v.gap > 0 else "residual"
            high, low = (s, s - v.gap) if v.gap > 0 else (s - v.gap, s)
            fields = dict(depth=d, high=high, low=low, gap=abs(v.gap), spread=v.spread, since=v.since, n=v.n)
            out.append(message(APART[high_kind], **fields))
        else:
            plain = spread([r.final_loss["plain"] for r in exp.results if r.depth == d])["median_loss"]
            fields = dict(depth=d, gap=abs(v.gap), plain=plain, residual=plain - v.gap, spread=v.spread, n=v.n)
            out.append(message(TOGETHER, **fields))
    out.append(message(SCOPE, steps=exp.steps))
    return out


def csv_text(exp: Experiment) -> str:
    """The experiment's table, one row per run, as CSV a spreadsheet opens (plain ASCII, a header row). A run's
    ``student``: the anonymous numbers of the students assigned its pair (none for a pair run from the CLI)."""
    who: dict[tuple[int, int], list[str]] = {}
    for a in exp.assignments:
        who.setdefault((a.depth, a.seed), []).append(str(a.number))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_HEADER)
    for row in exp.rows():
        kind = "residual" if row["residual"] else "plain"
        students = " ".join(who.get((row["depth"], row["seed"]), []))
        acc = "" if math.isnan(row["heldout_acc"]) else f"{row['heldout_acc']:.4f}"
        w.writerow((row["depth"], kind, row["seed"], f"{row['final_loss']:.6f}", acc, row["steps"], students))
    return buf.getvalue()
