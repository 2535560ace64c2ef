"""Training curves and gradient-flow heat-maps from a ``History`` (or its dict): pure plotly figures.

Plain networks are dashed vermillion, residual ones solid blue (the app's colours); within a kind,
shallower networks are lighter and thinner, so a depth sweep reads at a glance.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explorer.charts.style import apply_style, colour
from explorer.history import History, ModelHistory
from explorer.i18n import _


def _shade(hex_colour: str, lighten: float) -> str:
    """Blend a #rrggbb colour towards white by ``lighten`` in [0, 1]."""
    rgb = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * lighten):02x}" for c in rgb)


def _styles(models: dict[str, ModelHistory]) -> dict[str, dict]:
    """Line style per network: colour and dash by kind, shade and width by depth rank."""
    depths = sorted({m.depth for m in models.values()})
    styles = {}
    for name, m in models.items():
        rank = depths.index(m.depth) / max(1, len(depths) - 1)  # 0 shallowest .. 1 deepest
        styles[name] = {
            "color": _shade(colour(m.residual), 0.5 * (1 - rank)),
            "dash": "solid" if m.residual else "dash",
            "width": 2.5 + 1.5 * rank,
        }
    return styles


def _smooth(y: list[float], window: int) -> np.ndarray:
    """Trailing moving average (window 1: the raw values)."""
    y = np.asarray(y, dtype=float)
    if window <= 1 or len(y) == 0:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    n = np.minimum(np.arange(1, len(y) + 1), window)
    return (c[1:] - c[np.arange(1, len(y) + 1) - n]) / n


def _models(history: History | dict) -> dict[str, ModelHistory]:
    return (History.from_dict(history) if isinstance(history, dict) else history).models


def loss_curves(history: History | dict, smooth: int = 10, title: str | None = None) -> go.Figure:
    """Training loss against step for every network (trailing mean over ``smooth`` steps)."""
    models = _models(history)
    styles = _styles(models)
    fig = go.Figure()
    for name, m in models.items():
        n = len(m.step)  # align on step: the lists may be growing in another thread
        fig.add_trace(
            go.Scatter(x=m.step[:n], y=_smooth(m.loss[:n], smooth), name=name, mode="lines", line=styles[name])
        )
        if m.stopped_reason:
            fig.add_annotation(
                x=m.stopped_step or 0,
                y=0,
                text=_("{name} stopped").format(name=name),
                showarrow=False,
                yanchor="bottom",
            )
    fig.update_xaxes(title=_("step"))
    fig.update_yaxes(title=_("cross-entropy loss"), rangemode="tozero")
    return apply_style(fig, title or _("Training loss"))


def accuracy_curves(history: History | dict, smooth: int = 10, title: str | None = None) -> go.Figure:
    """Training accuracy (lines) and held-out accuracy (markers) against step."""
    models = _models(history)
    styles = _styles(models)
    fig = go.Figure()
    for name, m in models.items():
        n = len(m.step)
        acc = 100 * _smooth(m.accuracy[:n], smooth)
        fig.add_trace(
            go.Scatter(x=m.step[:n], y=acc, name=_("{name} train").format(name=name), mode="lines", line=styles[name])
        )
        k = len(m.eval_step)
        if k:
            fig.add_trace(
                go.Scatter(
                    x=m.eval_step[:k], y=[100 * a for a in m.eval_accuracy[:k]], name=_("{name} held-out").format(name=name),
                    mode="markers", marker={"color": styles[name]["color"], "size": 12,
                                            "symbol": "circle" if m.residual else "x"},
                )
            )  # fmt: skip
    fig.update_xaxes(title=_("step"))
    fig.update_yaxes(title=_("accuracy (%)"), range=[0, 100])
    return apply_style(fig, title or _("Accuracy"))


def grad_norm_heatmap(model: ModelHistory | dict, max_columns: int = 400, title: str | None = None) -> go.Figure:
    """Layer x step heat-map of weight-gradient L2 norms, log colour scale; input layer at the top."""
    m = ModelHistory.from_dict(model) if isinstance(model, dict) else model
    n = len(m.step)
    g = np.asarray(m.grad_norms[:n], dtype=float).reshape(n, len(m.layers))  # (steps, layers)
    steps = np.asarray(m.step[:n])
    if n > max_columns:  # average neighbouring steps so a long run stays light to draw
        edges = np.linspace(0, n, max_columns + 1).astype(int)
        g = np.stack([g[a:b].mean(0) for a, b in zip(edges[:-1], edges[1:], strict=True)])
        steps = steps[edges[1:] - 1]
    z = np.log10(np.clip(g.T, 1e-12, None))  # (layers, steps)
    lo, hi = (np.nanpercentile(z, 1), np.nanpercentile(z, 99)) if z.size else (-3, 0)
    values = [m * 10.0**k for k in range(int(np.floor(lo)), int(np.ceil(hi)) + 1) for m in (1, 2, 5)]
    values = [v for v in values if lo <= np.log10(v) <= hi] or [10.0**lo]
    fig = go.Figure(
        go.Heatmap(
            x=steps, y=m.layers, z=z, zmin=lo, zmax=hi, colorscale="Viridis",
            colorbar={"title": "‖∇W‖", "tickvals": np.log10(values), "ticktext": [f"{v:.3g}" for v in values]},
            hovertemplate=_("step") + " %{x}<br>%{y}<br>log10 ‖∇W‖ = %{z:.2f}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_yaxes(title=_("layer (forward order)"), autorange="reversed", tickfont={"size": 14})
    fig.update_xaxes(title=_("step"))
    title = title or _("{name}: weight-gradient norm per layer").format(name=m.name)
    return apply_style(fig, title, height=max(420, 14 * len(m.layers)))
