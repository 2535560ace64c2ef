"""Lesion charts: accuracy drop per removed block and accuracy against blocks removed (Veit et al. 2016)."""

from __future__ import annotations

import plotly.graph_objects as go

from explorer.charts.style import apply_style, block_ticks, colour
from explorer.experiments.lesion import LesionResult
from explorer.i18n import _

TICK_SIZE = 13  # the block indices: at 13 px all 27 of a ResNet-56 fit a 540-pixel chart (a projector's 1024 px page)


def lesion_figure(results: list[LesionResult]) -> go.Figure:
    """Accuracy drop when each single block is removed, one bar group per network (plain vs residual); a cross at 0
    marks a block that cannot be removed (in a plain net, one that changes the shape)."""
    if not results:
        raise ValueError("no lesion results")
    fig = go.Figure()
    for res in results:
        names = [b.name for b in res.blocks]
        fig.add_trace(
            go.Bar(
                x=block_ticks(names),
                y=[100 * b.drop if b.removable else 0.0 for b in res.blocks],
                customdata=names,
                offsetgroup=res.model_name,
                name=_("{name} (baseline {acc:.1f}%)").format(name=res.model_name, acc=100 * res.baseline),
                marker={"color": colour(res.residual)},
                hovertemplate="%{customdata}: %{y:.1f} " + _("points") + "<extra></extra>",
            )
        )
    cross = _("cannot be removed (it changes the shape)")
    for res in results:  # a cross where the network's bar would be: bars and crosses share offset groups
        fixed = [b.name for b in res.blocks if not b.removable]
        if fixed:
            fig.add_trace(
                go.Scatter(
                    x=block_ticks(fixed),
                    y=[0.0] * len(fixed),
                    customdata=fixed,
                    offsetgroup=res.model_name,
                    mode="markers",
                    marker={"symbol": "x-thin", "size": 16, "line": {"width": 3, "color": colour(res.residual)}},
                    name=cross,
                    legendgroup=cross,
                    showlegend=not any(t.name == cross for t in fig.data),
                    hovertemplate="%{customdata}: " + cross + "<extra>" + res.model_name + "</extra>",
                    cliponaxis=False,
                )
            )
    fig.update_layout(barmode="group", scattermode="group")
    fig.update_xaxes(title=_("removed block"), tickangle=0, tickfont={"size": TICK_SIZE})
    fig.update_yaxes(title=_("accuracy drop (percentage points)"))
    apply_style(fig, _("Lesion study: remove one block at test time"), height=540)
    fig.update_layout(legend={"y": -0.3}, margin={"b": 130})  # under the two rows of ticks and the axis title
    return fig


def removal_curve_figure(results: list[LesionResult]) -> go.Figure:
    """Accuracy against the number of blocks removed: mean over random sets, bars from worst to best."""
    if not results:
        raise ValueError("no lesion results")
    fig = go.Figure()
    for res in results:
        c = colour(res.residual)
        ks = [0] + [p.k for p in res.removed]
        mean = [res.baseline] + [p.mean for p in res.removed]
        low = [res.baseline] + [p.low for p in res.removed]
        high = [res.baseline] + [p.high for p in res.removed]
        fig.add_trace(
            go.Scatter(
                x=ks,
                y=[100 * v for v in mean],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [100 * (h - m) for h, m in zip(high, mean, strict=True)],
                    "arrayminus": [100 * (m - lo) for lo, m in zip(low, mean, strict=True)],
                    "thickness": 2,
                    "width": 6,
                },
                mode="lines+markers",
                name=res.model_name,
                line={"color": c, "width": 3},
                marker={"size": 9},
                hovertemplate="%{x} " + _("removed") + ": %{y:.1f}%<extra>" + res.model_name + "</extra>",
            )
        )
    fig.update_xaxes(title=_("blocks removed"), rangemode="tozero")
    fig.update_yaxes(title=_("test accuracy (%)"), range=[0, 102])
    return apply_style(fig, _("Removing several blocks at test time (Veit et al. 2016)"), height=520)
