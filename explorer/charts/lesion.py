"""Lesion charts: accuracy drop per removed block and accuracy against blocks removed (Veit et al. 2016)."""

from __future__ import annotations

import plotly.graph_objects as go

from explorer.charts.style import FONT_SIZE, apply_style, colour
from explorer.experiments.lesion import LesionResult
from explorer.i18n import _


def lesion_figure(results: list[LesionResult]) -> go.Figure:
    """Accuracy drop when each single block is removed, one bar group per network (plain vs residual)."""
    if not results:
        raise ValueError("no lesion results")
    fig = go.Figure()
    for res in results:
        names = [b.name for b in res.blocks]
        drops = [100 * b.drop if b.removable else 0.0 for b in res.blocks]
        text = ["" if b.removable else _("cannot<br>remove") for b in res.blocks]
        fig.add_trace(
            go.Bar(
                x=names,
                y=drops,
                name=_("{name} (baseline {acc:.1f}%)").format(name=res.model_name, acc=100 * res.baseline),
                marker={
                    "color": colour(res.residual),
                    "pattern": {"shape": ["" if b.removable else "x" for b in res.blocks]},
                },
                text=text,
                textposition="outside",
                textfont={"size": FONT_SIZE - 2, "color": colour(res.residual)},
                cliponaxis=False,
                hovertemplate="%{x}: %{y:.1f} " + _("points") + "<extra></extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title=_("removed block"))
    fig.update_yaxes(title=_("accuracy drop (percentage points)"))
    return apply_style(fig, _("Lesion study: remove one block at test time"), height=520)


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
