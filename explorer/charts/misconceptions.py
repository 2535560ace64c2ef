"""Figures for the three myths (``explorer.misconceptions``): fit, gradient growth, block cost."""

from __future__ import annotations

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
    return apply_style(fig, _("Training against held-out accuracy at the end of the run"), height=420)


def gradient_growth_figure(ratios: Sequence[dict]) -> go.Figure:
    """First-layer over last-layer gradient norm against depth (``gradients.first_last_ratios`` rows), log scale;
    below 1 would mean vanishing. Rows of pre-activation nets (He et al. 2016) get their own, dotted lines."""
    fig = go.Figure()
    for preact, residual in ((False, False), (False, True), (True, False), (True, True)):
        rows = sorted(
            (r for r in ratios if r["residual"] == residual and r.get("preact", False) == preact),
            key=lambda r: r["depth"],
        )
        if not rows:
            continue
        name = _("residual") if residual else _("plain")
        fig.add_trace(
            go.Scatter(
                x=[r["depth"] for r in rows],
                y=[r["ratio"] for r in rows],
                mode="lines+markers+text",
                text=[f"{r['ratio']:.3g}" for r in rows],
                textposition="top center",
                name=_("{kind}, 2016 pre-activation").format(kind=name) if preact else name,
                line={
                    "color": colour(residual),
                    "width": 3,
                    "dash": "dot" if preact else "solid" if residual else "dash",
                },
                marker={"size": 10, "symbol": "diamond" if preact else "circle"},
            )
        )
    fig.add_hline(y=1, line={"color": "#777777", "dash": "dot"})
    fig.add_annotation(
        x=1,
        xref="paper",
        y=0,
        yref="y",
        text=_("far below 1: vanishing · far above 1: exploding"),
        showarrow=False,
        yanchor="top",
        xanchor="right",
    )
    fig.update_xaxes(title=_("depth (layers)"))
    fig.update_yaxes(type="log", title=_("gradient norm: first layer / last layer"), exponentformat="power")
    return apply_style(fig, _("Gradient norm at the first layer over the last, at initialisation"), height=440)


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
