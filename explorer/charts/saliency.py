"""Saliency-benchmark figures: one metric's scores per method, plain beside residual, trained beside randomised,
the two maps that explain nothing (random, centre) drawn as lines; and the images where the methods disagree."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.charts.attribution import image_trace
from explorer.charts.colors import overlay_rgb, to_rgb_uint8
from explorer.charts.style import apply_style, colour
from explorer.charts.training import _shade
from explorer.experiments.saliency_maps import BASELINES, METHOD_KEYS
from explorer.experiments.saliency_verdicts import near_chance
from explorer.i18n import N_, _
from explorer.interpret.methods import METHOD_LABELS

METRIC_LABELS = {  # English keys; shown through _()
    "pointing_game": N_("Pointing game (higher is better)"),
    "mass_in_mask": N_("Mass in the outline (higher is better)"),
    "deletion_auc": N_("Deletion AUC (lower is better)"),
    "insertion_auc": N_("Insertion AUC (higher is better)"),
    "road_deletion_auc": N_("Deletion AUC, ROAD's removal (lower is better)"),
    "road_insertion_auc": N_("Insertion AUC, ROAD's removal (higher is better)"),
}
METRIC_SHORT = {  # table columns
    "pointing_game": N_("pointing game ↑"),
    "mass_in_mask": N_("mass in outline ↑"),
    "deletion_auc": N_("deletion AUC ↓"),
    "insertion_auc": N_("insertion AUC ↑"),
    "road_deletion_auc": N_("ROAD deletion ↓"),
    "road_insertion_auc": N_("ROAD insertion ↑"),
}
WEIGHT_LABELS = {"trained": N_("trained"), "randomised": N_("randomised weights")}
BASELINE_STYLE = {"random": ("#777777", "dot", N_("random map")), "center": ("#000000", "dash", N_("centre map"))}
EXPECTED_LABEL = N_("random map, expected")  # the pointing game's random line: the hit area, not one draw


def method_label(name: str) -> str:
    """A method's name in the session's language (the benchmark's keys are the CLI's: 'grad-cam', ...)."""
    key = METHOD_KEYS.get(name)
    if key is None:
        return _(BASELINE_STYLE[name][2]) if name in BASELINE_STYLE else name
    return _(METHOD_LABELS.get(key, key))


def _network_colour(network: str, depths: list[int]) -> str:
    kind, _sep, depth = network.partition("-")
    rank = depths.index(int(depth)) / max(1, len(depths) - 1) if depth.isdigit() and int(depth) in depths else 1.0
    return _shade(colour(kind != "Plain"), 0.45 * (1 - rank))  # shallower lighter, as the training charts


def _weak(result: dict) -> bool:
    """A trained network near chance: named as such in the legend (randomised ones are near chance by design)."""
    return result["weights"] == "trained" and near_chance(result)


def _network_colours(results: list[dict]) -> dict[str, str]:
    """Each network's colour, shaded by its depth among all the results' depths."""
    depths = sorted({int(d) for r in results if (d := r["network"].rpartition("-")[2]).isdigit()})
    return {r["network"]: _network_colour(r["network"], depths) for r in results}


def _add_bars(fig: go.Figure, c: int, panel: list[dict], subset: str, metric: str, colours: dict, shown: set) -> None:
    """In panel c (from 1): a bar per method for each network in its colour (``colours``), each network in the legend
    once (``shown``)."""
    methods = [m for m in METHOD_KEYS if m not in BASELINES]
    for r in panel:
        scores = r[subset]
        fig.add_trace(
            go.Bar(
                x=[method_label(m) for m in methods],
                y=[scores[m][metric] if scores.get(m) else None for m in methods],
                name=_("{network} (near chance)").format(network=r["network"]) if _weak(r) else r["network"],
                legendgroup=r["network"],
                showlegend=r["network"] not in shown,
                marker={"color": colours[r["network"]]},
                hovertemplate=f"{r['network']}<br>%{{x}}: %{{y:.3f}}<extra></extra>",
            ),
            row=1,
            col=c,
        )
        shown.add(r["network"])


def _add_baselines(fig: go.Figure, c: int, panel: list[dict], subset: str, metric: str, shown: set) -> list[str]:
    """In panel c (from 1): each baseline's mean score as a horizontal line, its style in the legend once
    (``shown``). Returns the lines' labels with their values ("random map 0.12")."""
    labels = []
    for b in BASELINES:
        values = _baseline_values(panel, subset, b, metric)
        if not values:
            continue
        line_colour, dash, label = BASELINE_STYLE[b]
        if b == "random" and metric == "pointing_game" and all("hit_area" in r for r in panel):
            label = EXPECTED_LABEL
        mean = float(np.mean(values))
        fig.add_hline(y=mean, line={"color": line_colour, "dash": dash, "width": 2}, row=1, col=c)
        labels.append(f"{_(label)} {mean:.2f}")
        if b not in shown:
            fig.add_trace(_legend_line(_(label), line_colour, dash), row=1, col=c)
            shown.add(b)
    return labels


def metric_figure(results: list[dict], metric: str, subset: str = "methods") -> go.Figure:
    """Bars of ``metric`` for each method and network, one panel per weights (trained, randomised); the
    baselines' scores (averaged over the panel's networks) as horizontal lines."""
    weights = [w for w in WEIGHT_LABELS if any(r["weights"] == w for r in results)]
    if not weights:
        raise ValueError("no results to draw")
    fig = make_subplots(
        rows=1, cols=len(weights), shared_yaxes=True, subplot_titles=[" "] * len(weights), horizontal_spacing=0.14
    )  # room for the slanted method names between the panels
    colours, shown = _network_colours(results), set()  # shown: networks and baselines already in the legend
    for c, w in enumerate(weights, start=1):
        panel = [r for r in results if r["weights"] == w and r.get(subset)]
        _add_bars(fig, c, panel, subset, metric, colours, shown)
        labels = _add_baselines(fig, c, panel, subset, metric, shown)
        # the baselines' values go under the panel's title, above the plot: never on a bar nor on each other
        # one line each: side by side, two panels' labels ran into each other on a narrow screen
        fig.layout.annotations[c - 1].text = "<br>".join([_(WEIGHT_LABELS[w]), *labels])
    fig.update_yaxes(range=[0, 1.05])
    fig.update_xaxes(tickangle=-30)
    fig.update_layout(barmode="group", bargap=0.25)
    apply_style(fig, _(METRIC_LABELS[metric]), height=540)
    fig.update_annotations(font_size=16, yanchor="bottom")
    fig.update_layout(legend={"y": -0.62}, margin={"t": 150, "b": 200})  # below the slanted method names
    return fig


def _baseline_values(panel: list[dict], subset: str, baseline: str, metric: str) -> list[float]:
    """A baseline map's scores over a panel's networks (those that learned, where any did); for the random map's
    pointing game, what it should come to (the share of pixels within the tolerance of the outline, ``hit_area``)
    when every result has it."""
    learned = [r for r in panel if not _weak(r)]
    panel = learned or panel  # a network near chance would drag the line towards its own flat 0.1
    if baseline == "random" and metric == "pointing_game" and panel and all("hit_area" in r for r in panel):
        return [r["hit_area"] for r in panel]
    return [r[subset][baseline][metric] for r in panel if r[subset].get(baseline)]


def _legend_line(name: str, line_colour: str, dash: str) -> go.Scatter:
    """A legend entry showing a baseline's line style (the line itself is a shape, which has no legend entry)."""
    return go.Scatter(
        x=[None], y=[None], mode="lines", name=name, line={"color": line_colour, "dash": dash, "width": 2}
    )


EXAMPLE_COLUMNS = 5  # panels a row: ten in one row were 80 px wide and their titles ran into each other


def examples_figure(example: dict) -> go.Figure:
    """One image where the methods disagree: the image, its true outline, then each method's map over it, in rows
    of ``EXAMPLE_COLUMNS`` panels, each wide enough for its title."""
    image = np.asarray(example["image"], dtype=np.uint8)
    maps = {m: np.asarray(v, dtype=np.float32) / 255 for m, v in example["maps"].items() if m not in BASELINES}
    titles = [_("image"), _("true outline")] + [method_label(m) for m in maps]
    cols = min(EXAMPLE_COLUMNS, len(titles))
    rows = math.ceil(len(titles) / cols)
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.02, vertical_spacing=0.12 / rows
    )  # fmt: skip
    mask = np.asarray(example["mask"], dtype=np.float32)
    panels = [to_rgb_uint8(image), overlay_rgb(image, mask, 0.5, colourmap="viridis")]
    panels += [overlay_rgb(image, m, 0.6) for m in maps.values()]
    for i, rgb in enumerate(panels):
        fig.add_trace(image_trace(rgb), row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font_size=15)
    apply_style(fig, None, height=40 + 190 * rows)
    fig.update_layout(margin={"t": 30, "b": 10})
    return fig
