"""Seeing inside: feature-map grids, channel statistics and a residual block taken apart (He et al. 2015, Fig. 7).

Pure functions from the plain arrays of ``explorer.interpret.probes`` to plotly figures; the gradient charts are in
``explorer.charts.gradients``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from explorer.charts import spec
from explorer.charts.style import DASHES, FONT_SIZE, apply_style, block_ticks, colour
from explorer.i18n import _

MAP_SCALE = "Viridis"  # perceptually uniform, colourblind-safe


SIGNED_SCALE = "RdBu_r"


def _heatmap(z: np.ndarray, cell: int, **props) -> dict:
    """One heatmap trace in cell ``cell`` of a ``spec.subplot_grid``, in the form plotly validates to."""
    return {"type": "heatmap", "z": z, **props, **spec.axis_names(cell)}


def feature_map_spec(fm, cols: int = 4, shared_scale: bool = True, title: str | None = None) -> dict:
    """A grid of the k most active channels (``probes.FeatureMaps``), each titled with its index and mean,
    as plotly's dict (``explorer.charts.spec``: one per student's view, so built without validation).

    ``shared_scale`` puts every map on one colour scale, so strong and weak channels compare.
    """
    k = len(fm.channels)
    cols = max(1, min(cols, k))
    rows = math.ceil(k / cols)
    titles = [_("ch {c}").format(c=c) for c in fm.channels]
    layout = spec.subplot_grid(rows, cols, titles, hspace=0.02, vspace=0.08, title_size=FONT_SIZE - 2)
    lo, hi = (float(fm.maps.min()), float(fm.maps.max())) if shared_scale else (None, None)
    signed = lo is not None and lo < 0 < hi
    if signed:
        lo, hi = -max(-lo, hi), max(-lo, hi)
    scale = spec.colorscale(SIGNED_SCALE if signed else MAP_SCALE)
    bounds = {} if lo is None else {"zmin": lo, "zmax": hi}
    data = [
        _heatmap(
            fm.maps[i],
            i,
            **bounds,
            colorscale=scale,
            showscale=i == 0,
            colorbar={"title": {"text": _("activation")}, "len": 0.9},
            hovertemplate=_("channel {c} (mean {mean:.2f})").format(c=fm.channels[i], mean=fm.mean[fm.channels[i]])
            + "<br>x %{x}, y %{y}<br>%{z:.3f}<extra></extra>",
        )
        for i in range(k)
    ]
    spec.image_axes(layout, rows * cols)
    c, h, w = fm.shape
    title = title or _("{layer}: top {k} of {c} channels ({h}x{w})").format(layer=fm.layer, k=k, c=c, h=h, w=w)
    return spec.spec(data, layout, title, height=80 + 230 * rows)


def feature_map_figure(fm, cols: int = 4, shared_scale: bool = True, title: str | None = None) -> go.Figure:
    """``feature_map_spec`` as a ``go.Figure``."""
    return spec.as_figure(feature_map_spec(fm, cols, shared_scale, title))


def channel_stats_spec(fm) -> dict:
    """Per-channel mean activation (bars, the top-k highlighted) and fraction of active positions, as a dict."""
    idx = np.arange(len(fm.mean))
    top = set(int(c) for c in fm.channels)
    layout = spec.subplot_grid(2, 1, vspace=0.08, shared_xaxes=True)
    data = [
        {
            "type": "bar",
            "x": idx,
            "y": fm.mean,
            "marker": {"color": ["#0072B2" if i in top else "#BBBBBB" for i in idx]},
            "name": _("mean"),
            "error_y": {"type": "data", "array": fm.std, "visible": True, "thickness": 1},
            **spec.axis_names(0),
        },
        {
            "type": "bar",
            "x": idx,
            "y": fm.active,
            "marker": {"color": "#009E73"},
            "name": _("fraction > 0"),
            **spec.axis_names(1),
        },
    ]
    layout["yaxis"]["title"] = {"text": _("mean ± std")}
    layout["yaxis2"].update({"title": {"text": _("fraction > 0")}, "range": [0, 1]})
    layout["xaxis2"]["title"] = {"text": _("channel")}
    title = _("{layer}: statistics of all {n} channels (blue: shown above)").format(layer=fm.layer, n=len(idx))
    fig = spec.spec(data, layout, title, height=520)
    fig["layout"]["showlegend"] = False
    return fig


def channel_stats_figure(fm) -> go.Figure:
    """``channel_stats_spec`` as a ``go.Figure``."""
    return spec.as_figure(channel_stats_spec(fm))


def _magnitude(a: np.ndarray | None, channel: int | None) -> np.ndarray | None:
    """(C, H, W) -> (H, W): one channel, or the L2 norm over channels at each position."""
    if a is None:
        return None
    return a[channel] if channel is not None else np.sqrt((a.astype(np.float64) ** 2).sum(0))


def _parts(d: dict) -> list[tuple[str, str]]:
    """(key of ``d``, panel title) for each map a block shows: x and F(x); the shortcut where it reshapes x; the
    sum in a residual block; the output after the last ReLU, which a pre-activation block has not (He et al. 2016)."""
    parts = [("x", _("input x")), ("branch", _("branch F(x)"))]
    if d["residual"]:
        if d["shortcut"] is not None and d["shortcut"].shape != d["x"].shape:
            parts.append(("shortcut", _("shortcut(x)")))
        parts.append(("sum", _("F(x) + shortcut")))
    if not d.get("preact"):
        parts.append(("out", _("output relu(...)")))
    return parts


def _residual_title(d: dict, channel: int | None) -> str:
    """One line (a second ran into the panel titles below it): the block, its kind, what the maps show, the ratio."""
    what = _("channel {c}").format(c=channel) if channel is not None else _("norm over channels")
    if d.get("preact"):
        title = _("{block}: pre-activation block, output = F(x) + shortcut, {what}").format(block=d["block"], what=what)
    elif d["residual"]:
        title = _("{block}: residual block, {what}").format(block=d["block"], what=what)
    else:
        title = _("{block}: plain block, {what}").format(block=d["block"], what=what)
    ratio = f" · ‖F(x)‖ / ‖shortcut‖ = {d['ratio']:.2f}" if d.get("ratio") is not None else ""
    return title + ratio


def residual_spec(d: dict, channel: int | None = None) -> dict:
    """x, F(x), shortcut, x + F(x) and the block output side by side, norms in the titles, one colour scale.

    ``d`` is ``probes.residual_decomposition``'s result. Maps show the norm over channels at each position
    (or one ``channel``); a plain block shows x, F(x) and relu(F(x)). Plotly's dict, built without validation.
    """
    parts = _parts(d)
    maps = {
        k: _magnitude(d[k], channel if k != "x" or d["x"].shape[0] > (channel or 0) else None) for k, _label in parts
    }
    titles = [f"{label}<br>‖·‖ = {d['norms'][k]:.1f}" for k, label in parts]
    layout = spec.subplot_grid(1, len(parts), titles, hspace=0.03, title_size=FONT_SIZE - 1)
    hi = max(float(np.max(m)) for m in maps.values())
    lo = min(float(np.min(m)) for m in maps.values())
    signed = channel is not None and lo < 0
    scale = spec.colorscale(SIGNED_SCALE if signed else MAP_SCALE)
    data = [
        _heatmap(
            maps[k],
            i,
            zmin=-max(hi, -lo) if signed else 0,
            zmax=max(hi, -lo) if signed else hi,
            colorscale=scale,
            showscale=i == len(parts) - 1,
            colorbar={"title": {"text": _("value") if signed else _("norm")}},
            hovertemplate=f"{label}<br>%{{z:.3f}}<extra></extra>",
        )
        for i, (k, label) in enumerate(parts)
    ]
    spec.image_axes(layout, len(parts))
    fig = spec.spec(data, layout, _residual_title(d, channel), height=400)
    fig["layout"]["margin"]["t"] = 130
    return fig


def residual_figure(d: dict, channel: int | None = None) -> go.Figure:
    """``residual_spec`` as a ``go.Figure``."""
    return spec.as_figure(residual_spec(d, channel))


def layer_response_figure(responses: Sequence, title: str | None = None) -> go.Figure:
    """Std of each 3x3 layer's response (after BN, before addition and ReLU) in forward order, one line per network.

    ``responses``: (name, residual, depth, stds) tuples; colour = plain/residual, dash = depth.
    """
    fig = go.Figure()
    depths = sorted({int(d) for _n, _r, d, _s in responses})
    for name, residual, depth, stds in responses:
        dash = DASHES[depths.index(int(depth)) % len(DASHES)]
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, len(stds) + 1),
                y=np.asarray(stds),
                mode="lines+markers",
                name=name,
                line={"color": colour(residual), "dash": dash, "width": 3},
                marker={"size": 5},
                hovertemplate=_("layer") + " %{x}<br>" + _("std") + " %{y:.3g}<extra>" + name + "</extra>",
            )
        )
    fig.update_xaxes(title_text=_("3x3 layer (forward order: input → output)"))
    fig.update_yaxes(title_text=_("std of the response"), rangemode="tozero")
    apply_style(fig, title or _("Layer responses (He et al. 2015, Fig. 7)"), height=480)
    return fig


def zero_gamma_figure(ratios: dict[str, list[tuple[str, float]]]) -> go.Figure:
    """||F(x)|| / ||shortcut(x)|| per block at initialisation, one line per initialisation (label -> (block, ratio))."""
    fig = go.Figure()
    styles = (("solid", 3, "#0072B2"), ("dash", 3, "#009E73"))
    for (label, rows), (dash, width, col) in zip(ratios.items(), styles, strict=False):
        fig.add_trace(
            go.Scatter(
                x=block_ticks([b for b, _r in rows]),  # "layer2" under its blocks' indices: level, never cut
                y=[r for _b, r in rows],
                mode="lines+markers",
                name=label,
                line={"color": col, "dash": dash, "width": width},
                marker={"size": 8},
                hovertemplate="%{x}: %{y:.2f}<extra>" + label + "</extra>",
            )
        )
    fig.update_yaxes(title_text="‖F(x)‖ / ‖shortcut(x)‖", rangemode="tozero")
    fig.update_xaxes(tickfont={"size": 13})
    # no x title: the stage names under the indices say what the axis is, and the legend sits where it stood
    return apply_style(fig, _("ResNet-20 at initialisation: each block's F(x)"), height=420)
