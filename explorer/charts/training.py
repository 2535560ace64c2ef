"""Training curves and gradient-flow heat-maps from a ``History`` (or its dict): pure plotly figures.

Plain networks are dashed vermillion, residual ones solid blue (the app's colours); within a kind,
shallower networks are lighter and thinner, so a depth sweep reads at a glance.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explorer.charts import spec
from explorer.charts.style import FONT_SIZE, apply_style, colour
from explorer.i18n import _
from explorer.training.history import History, ModelHistory


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


KEY_COLOUR = "#555555"  # the grey of the legend's key to line and marker


def training_curves_spec(history: History | dict, smooth: int = 10) -> dict:
    """Training loss and accuracy side by side with one legend for both: one entry per network (a click hides
    it in both plots) and a key to what lines and markers mean. The legend sits under both plots, in the
    figure's own space (``yref="container"``), so it never shrinks a plot or runs into an axis title.

    Built as plotly's dict (``explorer.charts.spec``): a live run's curves are drawn anew at every poll of every
    page watching it, and a ``go.Figure`` of the degradation preset's four networks cost about 35 ms of the
    server's CPU a poll (``bench/bench_poll.py``).
    """
    models = _models(history)
    styles = _styles(models)
    layout = spec.subplot_grid(1, 2, [_("Training loss"), _("Accuracy")], hspace=0.15, title_size=FONT_SIZE + 2)
    loss_axes, acc_axes = spec.axis_names(0), spec.axis_names(1)
    data, stopped = [], []
    for name, m in models.items():
        n = len(m.step)  # align on step: the lists may be growing in another thread
        line = {"x": m.step[:n], "mode": "lines", "line": styles[name], "legendgroup": name, "name": name}
        data.append({"type": "scatter", "y": _smooth(m.loss[:n], smooth), **line, **loss_axes})
        data.append(
            {"type": "scatter", "y": 100 * _smooth(m.accuracy[:n], smooth), "showlegend": False, **line, **acc_axes}
        )
        k = len(m.eval_step)
        if k:
            marker = {"color": styles[name]["color"], "size": 12, "symbol": "circle" if m.residual else "x"}
            data.append(
                {
                    "type": "scatter", "x": m.eval_step[:k], "y": [100 * a for a in m.eval_accuracy[:k]],
                    "mode": "markers", "marker": marker, "legendgroup": name, "showlegend": False,
                    "name": _("{name} held-out").format(name=name), **acc_axes,
                }
            )  # fmt: skip
        if m.stopped_reason:
            stopped.append(
                {
                    "showarrow": False, "text": _("{name} stopped").format(name=name), "x": m.stopped_step or 0,
                    "xref": "x", "y": 0, "yanchor": "bottom", "yref": "y",
                }
            )  # fmt: skip
    data += _key_traces(any(m.eval_step for m in models.values()), smooth)
    layout["annotations"] += stopped
    layout["xaxis"]["title"] = layout["xaxis2"]["title"] = {"text": _("step")}
    layout["yaxis"].update({"title": {"text": _("cross-entropy loss")}, "rangemode": "tozero"})
    layout["yaxis2"].update({"title": {"text": _("accuracy (%)")}, "range": [0, 100]})
    fig = spec.spec(data, layout, height=520)
    fig["layout"]["legend"].update({"yref": "container", "y": 0, "yanchor": "bottom"})
    fig["layout"]["margin"].update({"t": 50, "b": 150})
    return fig


def training_curves(history: History | dict, smooth: int = 10) -> go.Figure:
    """``training_curves_spec`` as a ``go.Figure``."""
    return spec.as_figure(training_curves_spec(history, smooth))


def _key_traces(held_out: bool, smooth: int) -> list[dict]:
    """Legend entries that say what a line and a marker are (grey: they hold for every network)."""
    grey = {"color": KEY_COLOUR}
    text = _("line: training, mean of {n} steps").format(n=smooth) if smooth > 1 else _("line: training")
    key = {"type": "scatter", "x": [None], "y": [None], "legendgroup": "key"}
    traces = [{**key, "mode": "lines", "line": grey, "name": text}]
    if held_out:
        traces.append({**key, "mode": "markers", "marker": {**grey, "size": 12}, "name": _("marker: held-out images")})
    return traces


def _layer_ticks(layers: list[str], height: int) -> list[str]:
    """The layers to label on a heat-map of ``height`` pixels: all that fit, the first and the last always."""
    every = max(1, int(np.ceil(18 * len(layers) / max(height - 140, 1))))  # 18 px for a 14 px label
    idx = list(range(0, len(layers), every))
    if idx and idx[-1] != len(layers) - 1:
        if len(layers) - 1 - idx[-1] < every and len(idx) > 1:
            idx[-1] = len(layers) - 1  # the output layer (fc) is the one a reader looks for
        else:
            idx.append(len(layers) - 1)
    return [layers[i] for i in idx]


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
    height = max(420, 14 * len(m.layers))
    ticks = _layer_ticks(list(m.layers), height)
    fig.update_yaxes(
        title=_("layer (forward order)"), autorange="reversed", tickfont={"size": 14}, tickmode="array",
        tickvals=ticks, ticktext=ticks,
    )  # fmt: skip
    fig.update_xaxes(title=_("step"))
    title = title or _("{name}: weight-gradient norm per layer").format(name=m.name)
    return apply_style(fig, title, height=height)
