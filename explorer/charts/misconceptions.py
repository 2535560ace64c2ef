"""Figures for the three myths (``explorer.experiments.misconceptions``): fit, gradient growth, block cost."""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go

from explorer.charts.style import STAGE_COLOURS, apply_style, colour
from explorer.i18n import _


def fit_figure(fits: Sequence) -> go.Figure:
    """Training (solid) against held-out (hatched) accuracy per network: overfitting would show as a gap."""
    names = [f.name for f in fits]
    colours = [colour(f.residual) for f in fits]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(x=names, y=[100 * f.train_accuracy for f in fits], name=_("training accuracy"), marker_color=colours)
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=[100 * f.heldout_accuracy if f.heldout_accuracy is not None else None for f in fits],
            name=_("held-out accuracy"),
            marker={"color": colours, "pattern": {"shape": "/", "fgcolor": "white"}},
        )
    )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title=_("accuracy (%)"), range=[0, 100])
    return apply_style(fig, _("Training against held-out accuracy"), height=420)  # short: whole at 1024 px


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def ratio_text(ratio: float, html: bool = True) -> str:
    """A ratio as a label: three digits, powers of ten as 6.1×10⁶ (plotly's 6.14e+06 reads badly on a projector);
    the exponent in a ``<sup>`` for a chart, in superscript digits for a table (``html=False``)."""
    if ratio >= 1e4:
        exponent = math.floor(math.log10(ratio))
        power = f"<sup>{exponent}</sup>" if html else str(exponent).translate(_SUPERSCRIPT)
        return f"{ratio / 10**exponent:.1f}×10{power}"
    return f"{ratio:.3g}"


LABEL = 0.085  # a label's height, as a share of the y axis (about 25 pixels of a 460-pixel chart)
MARKER = 0.03  # a marker's half height, with a little room
GUIDE = "#777777"  # the line at 1 and its legend entry


def label_positions(points: Sequence[tuple[int, float]], span: float) -> list[str]:
    """Where each point's label goes ("top center", "bottom center" or "none"), on a log axis ``span`` decades
    tall, so that at one depth no label covers another label or a marker. Points are placed from the lowest up,
    each on its preferred side (away from the line at 1) if that is free, else on the other, else unlabelled
    (its value stays in the hover); a value within 1% of one already labelled is not written twice."""
    label, marker = LABEL * span, MARKER * span
    positions = ["none"] * len(points)
    by_depth: dict[int, list[int]] = {}
    for i, (depth, _ratio) in enumerate(points):
        by_depth.setdefault(depth, []).append(i)
    for ids in by_depth.values():
        ids.sort(key=lambda i: points[i][1])
        ids = [i for k, i in enumerate(ids) if k == 0 or points[i][1] > 1.01 * points[ids[k - 1]][1]]  # twins once
        ys = {i: math.log10(points[i][1]) for i in ids}
        taken = [(ys[i] - marker, ys[i] + marker) for i in ids]
        for i in ids:
            below = ("bottom center", (ys[i] - marker - label, ys[i] - marker))
            above = ("top center", (ys[i] + marker, ys[i] + marker + label))
            for where, (lo, hi) in (above, below) if points[i][1] >= 1 else (below, above):
                if all(hi <= a or lo >= b for a, b in taken):
                    positions[i] = where
                    taken.append((lo, hi))
                    break
    return positions


KINDS = ((False, False), (False, True), (True, False), (True, True))  # (preact, residual): the legend's order


def _by_kind(ratios: Sequence[dict]) -> list[tuple[bool, bool, list[dict]]]:
    """(preact, residual, rows shallowest first) for each kind of network the rows hold."""
    groups = []
    for preact, residual in KINDS:
        rows = sorted(
            (r for r in ratios if r["residual"] == residual and r.get("preact", False) == preact),
            key=lambda r: r["depth"],
        )
        if rows:
            groups.append((preact, residual, rows))
    return groups


def _log_range(rows: list[dict]) -> tuple[float, float]:
    """The decades the points span, always including the line at 1."""
    logs = [math.log10(r["ratio"]) for r in rows]
    low, high = (min(logs), max(logs)) if logs else (-1.0, 1.0)
    return min(low, 0.0), max(high, 0.0)


def _ratio_trace(preact: bool, residual: bool, rows: list[dict], where: list[str]) -> go.Scatter:
    """One kind's line, each point labelled where ``label_positions`` found room (``where``)."""
    name = _("residual") if residual else _("plain")
    return go.Scatter(
        x=[r["depth"] for r in rows],
        y=[r["ratio"] for r in rows],
        mode="lines+markers+text",
        text=[ratio_text(r["ratio"]) if w != "none" else "" for r, w in zip(rows, where, strict=True)],
        textposition=[w if w != "none" else "top center" for w in where],
        cliponaxis=False,
        name=_("{kind}, 2016 pre-activation").format(kind=name) if preact else name,
        line={"color": colour(residual), "width": 3, "dash": "dot" if preact else "solid" if residual else "dash"},
        marker={"size": 10, "symbol": "diamond" if preact else "circle"},
        hovertemplate="%{x}: %{y:.3g}<extra>%{fullData.name}</extra>",
    )


def gradient_growth_figure(ratios: Sequence[dict]) -> go.Figure:
    """First-layer over last-layer gradient norm against depth (``gradients.first_last_ratios`` rows), log scale;
    below 1 would mean vanishing. Rows of pre-activation nets (He et al. 2016) get their own, dotted lines.
    Labels never overlap one another (``label_positions``); the reading guide is the legend entry of the line at 1."""
    groups = _by_kind(ratios)
    rows = [r for _p, _r, kind_rows in groups for r in kind_rows]
    low, high = _log_range(rows)
    span = (high - low) / (1 - 2 * (LABEL + MARKER))  # room for a label above the top point and below the bottom one
    positions = iter(label_positions([(r["depth"], r["ratio"]) for r in rows], span))
    fig = go.Figure()
    for preact, residual, kind_rows in groups:
        fig.add_trace(_ratio_trace(preact, residual, kind_rows, [next(positions) for _r in kind_rows]))
    fig.add_hline(y=1, line={"color": GUIDE, "dash": "dot"})
    fig.add_trace(  # the reading guide is the dotted line's legend entry: the legend flows, it never meets a label
        go.Scatter(
            x=[None],
            y=[None],
            mode="lines",
            line={"color": GUIDE, "dash": "dot", "width": 2},
            name=_("far below 1: vanishing · far above 1: exploding"),
            hoverinfo="skip",
        )
    )
    fig.update_xaxes(title=_("depth (layers)"))
    margin = (LABEL + MARKER) * span
    fig.update_yaxes(
        type="log",
        title=_("first layer / last layer"),  # short: it must fit the plot's height at a projector's 1024 px
        exponentformat="power",
        range=[low - margin, high + margin],
    )
    apply_style(fig, _("Gradient norm ratio at initialisation"), height=460)
    fig.update_layout(margin={"b": 120}, legend={"y": -0.28})  # the legend under the x axis title
    return fig


def block_cost_figure(costs: Sequence) -> go.Figure:
    """Parameters of one block: basic at 64 and 256 channels, bottleneck at 256."""
    labels = [
        (_("basic block, {c} channels") if c.kind == "basic" else _("bottleneck block, {c} channels")).format(
            c=c.channels
        )
        for c in costs
    ]
    fig = go.Figure(
        go.Bar(
            x=[c.params for c in costs],
            y=labels,
            orientation="h",
            text=[f"{c.params:,}" for c in costs],
            textposition="auto",
            marker_color=[STAGE_COLOURS[2] if c.kind == "bottleneck" else STAGE_COLOURS[0] for c in costs],
        )
    )
    fig.update_xaxes(title=_("parameters in one block"))
    fig.update_yaxes(autorange="reversed")
    return apply_style(fig, _("What the bottleneck saves"), height=340)
