"""Gradient charts: weight-gradient norms per layer and shattered gradients (Balduzzi et al. 2017).

Pure functions from the plain results of ``explorer.interpret.gradients`` to plotly figures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.charts.style import DASHES, FONT_SIZE, apply_style, colour
from explorer.i18n import _


def log_ticks(values: Sequence[float]) -> dict:
    """Tick settings for a log axis over ``values``: within two decades plotly labels every 0.05 (or every digit)
    and the labels run into each other, so there the ticks are 1, 2 and 5 times the powers of ten, written out
    (0.1, 0.2, 0.5); wider, plotly's own powers of ten."""
    values = [v for v in values if v > 0]
    if not values or np.log10(max(values) / min(values)) >= 2:
        return {}
    low, high = np.floor(np.log10(min(values))), np.ceil(np.log10(max(values)))
    ticks = [m * 10.0**e for e in np.arange(low, high + 1) for m in (1, 2, 5)]
    ticks = [t for t in ticks if min(values) / 1.2 <= t <= max(values) * 1.2]  # the axis pads its range a little
    if len(ticks) < 2:  # a range narrower than one step of 1-2-5: plotly's own ticks are few there
        return {}
    return {"tickvals": ticks, "ticktext": [f"{t:.3g}" for t in ticks]}


def gradient_norms_figure(results: Sequence, title: str | None = None) -> go.Figure:
    """Per-layer weight-gradient norms (log scale) for several networks (``gradients.SweepResult``-like:
    ``name``, ``depth``, ``residual``, ``values``); colour = plain/residual, dash = depth."""
    fig = go.Figure()
    depths = sorted({r.depth for r in results})
    for r in results:
        dash = DASHES[depths.index(r.depth) % len(DASHES)]
        layers = getattr(r, "layers", None)
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, len(r.values) + 1),
                y=r.values,
                mode="lines",
                name=r.name,
                line={"color": colour(r.residual), "dash": dash, "width": 3},
                text=layers,
                hovertemplate="%{text}<br>" + _("norm") + " %{y:.3g}<extra>" + r.name + "</extra>",
            )
        )
    fig.update_yaxes(
        type="log",
        title_text=_("‖∂loss/∂W‖ (log scale)"),
        exponentformat="power",
        **log_ticks([v for r in results for v in r.values]),
    )
    fig.update_xaxes(title_text=_("layer (forward order: input → output)"))
    apply_style(fig, title or _("Gradient norm per layer"), height=520)
    return fig


def _shattered_grid(results: list) -> go.Figure:
    """One row per network on the left (its derivative), the autocorrelations in one panel spanning the right."""
    n = len(results)
    specs = [[{}, {"rowspan": n}]] + [[{}, None] for _row in range(n - 1)]
    return make_subplots(
        rows=n,
        cols=2,
        specs=specs,
        column_widths=[0.55, 0.45],
        shared_xaxes="columns",
        horizontal_spacing=0.1,
        vertical_spacing=0.03,
        subplot_titles=[results[0].name, _("autocorrelation of d output / dt")] + [r.name for r in results[1:]],
    )


def _derivative_trace(r, col: str) -> go.Scatter:
    """The derivative along the line, scaled to unit std."""
    return go.Scatter(
        x=r.t,
        y=r.grad / (np.std(r.grad) or 1.0),
        mode="lines",
        line={"color": col, "width": 1.5},
        showlegend=False,
        hovertemplate="t %{x:.3f}<br>%{y:.2f}<extra>" + r.name + "</extra>",
    )


def _autocorrelation_trace(r, col: str, dash: str) -> go.Scatter:
    return go.Scatter(
        x=np.arange(len(r.acf)),
        y=r.acf,
        mode="lines+markers",
        name=_("{name} (lag 1: {lag1:.2f})").format(name=r.name, lag1=r.lag1),
        line={"color": col, "dash": dash, "width": 3},
        marker={"size": 5},
    )


def shattered_figure(results: Sequence, max_traces: int = 6) -> go.Figure:
    """Left: the derivative along the line for each network (scaled to unit std); right: autocorrelation vs lag.

    ``results`` are ``gradients.ShatteredResult``; plain nets vermillion, residual blue, dash by name order.
    """
    results = list(results)[:max_traces]
    n = len(results)
    fig = _shattered_grid(results)
    depth_order = sorted({r.name.split("-")[-1] for r in results})
    for i, r in enumerate(results):
        col = colour(r.residual if r.residual is not None else not r.name.startswith("Plain"))
        dash = DASHES[depth_order.index(r.name.split("-")[-1]) % len(DASHES)]
        fig.add_trace(_derivative_trace(r, col), row=i + 1, col=1)
        fig.update_yaxes(showticklabels=False, row=i + 1, col=1)
        fig.add_trace(_autocorrelation_trace(r, col, dash), row=1, col=2)
    fig.update_xaxes(title_text=_("position t along the line"), row=n, col=1)
    fig.update_xaxes(title_text=_("lag (points)"), row=1, col=2)
    fig.update_yaxes(title_text=_("autocorrelation"), range=[-0.3, 1.02], row=1, col=2)
    fig.add_hline(y=0, line={"color": "#777777", "width": 1}, row=1, col=2)
    apply_style(fig, _("Shattered gradients: d output / dt along x0 + t·d"), height=max(560, 130 * n + 200))
    fig.update_layout(margin={"t": 150})
    fig.update_annotations(font_size=FONT_SIZE - 2)
    return fig
