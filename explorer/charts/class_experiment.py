"""The class chart: every run of a class experiment as a dot, final training loss (left) and held-out accuracy
(right) against depth, plain beside residual, with each group's median (a bar) and the spread across seeds (the
interquartile range, a whisker); a student's own pair is drawn larger, ringed in black."""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.charts.style import apply_style, colour
from explorer.experiments.class_verdict import quantile
from explorer.i18n import _

OFFSET = 0.18  # plain left of the depth, residual right, in units of one depth's slot
JITTER = 0.07  # dots of one group spread sideways so equal losses do not hide each other


def _jitter(seed: int) -> float:
    """A fixed sideways shift per seed in [-JITTER, JITTER] (the golden ratio spreads consecutive seeds)."""
    return JITTER * (2 * ((seed * 0.6180339887) % 1.0) - 1)


def class_figure(
    depths: tuple[int, ...], rows: tuple[tuple, ...], mine: tuple[int, int] | None = None, height: int = 520
) -> go.Figure:
    """The class chart. ``rows``: (depth, residual, seed, final loss, held-out accuracy) per run; ``mine``: the
    viewer's (depth, seed), highlighted."""
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=(_("Final training loss"), _("Held-out accuracy")), horizontal_spacing=0.1
    )
    slot = {d: i for i, d in enumerate(depths)}
    for residual in (False, True):
        name = _("residual") if residual else _("plain")
        side = OFFSET if residual else -OFFSET
        runs = [r for r in rows if bool(r[1]) == residual and r[0] in slot]
        for col, value in ((1, 3), (2, 4)):
            _dots(fig, runs, slot, side, col, value, name, colour(residual), residual)
            _medians(fig, runs, depths, slot, side, col, value, name, colour(residual))
    if mine is not None:
        own = [r for r in rows if (r[0], r[2]) == tuple(mine) and r[0] in slot]
        for col, value in ((1, 3), (2, 4)):
            xs = [slot[r[0]] + (OFFSET if r[1] else -OFFSET) + _jitter(r[2]) for r in own]
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=[r[value] for r in own],
                    mode="markers",
                    name=_("your pair"),
                    legendgroup="mine",
                    showlegend=col == 1 and bool(own),
                    hoverinfo="skip",
                    marker={"size": 20, "color": "rgba(0,0,0,0)", "line": {"width": 3.5, "color": "black"}},
                ),  # fmt: skip
                row=1,
                col=col,
            )
    ticks = {"tickvals": list(range(len(depths))), "ticktext": [str(d) for d in depths], "tickangle": 0}
    for col in (1, 2):  # the depths alone under each panel: "56 layers" slanted ran into the next panel's labels
        fig.update_xaxes(range=[-0.6, len(depths) - 0.4], **ticks, title_text=_("layers"), row=1, col=col)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    apply_style(fig, height=height)
    fig.update_layout(legend={"orientation": "h", "y": -0.2, "x": 0.5, "xanchor": "center"})
    return fig


def _dots(fig, runs, slot, side, col, value, name, color, residual) -> None:
    """Every run of one kind as a dot."""
    runs = [r for r in runs if not math.isnan(r[value])]
    fig.add_trace(
        go.Scatter(
            x=[slot[r[0]] + side + _jitter(r[2]) for r in runs],
            y=[r[value] for r in runs],
            customdata=[[r[0], r[2]] for r in runs],
            mode="markers",
            name=name,
            legendgroup=name,
            showlegend=col == 1,
            marker={"size": 10, "color": color, "opacity": 0.75, "symbol": "circle" if residual else "diamond"},
            hovertemplate=f"{name}, %{{customdata[0]}} {_('layers')}, {_('seed')} %{{customdata[1]}}: %{{y:.3f}}"
            + "<extra></extra>",
        ),
        row=1,
        col=col,
    )


def _medians(fig, runs, depths, slot, side, col, value, name, color) -> None:
    """Each depth's median (a wide bar) and interquartile range (a whisker) for one kind."""
    xs, med, up, down = [], [], [], []
    for d in depths:
        ys = [r[value] for r in runs if r[0] == d and not math.isnan(r[value])]
        if not ys:
            continue
        m = quantile(ys, 0.5)
        xs.append(slot[d] + side)
        med.append(m)
        up.append(quantile(ys, 0.75) - m)
        down.append(m - quantile(ys, 0.25))
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=med,
            mode="markers",
            name=_("median and middle half ({kind})").format(kind=name),
            legendgroup=name,
            showlegend=False,
            marker={"symbol": "line-ew", "size": 34, "line": {"width": 4, "color": color}},
            error_y={"type": "data", "array": up, "arrayminus": down, "color": color, "thickness": 2.5, "width": 0},
            hovertemplate=_("median") + " %{y:.3f}<extra></extra>",
        ),
        row=1,
        col=col,
    )
