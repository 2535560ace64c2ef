"""Seeing inside: feature-map grids, channel statistics and a residual block taken apart (He et al. 2015, Fig. 7).

Pure functions from the plain arrays of ``explorer.probes`` to plotly figures; the gradient charts are in
``explorer.charts.gradients``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.charts.style import DASHES, FONT_SIZE, apply_style, colour
from explorer.i18n import _

MAP_SCALE = "Viridis"  # perceptually uniform, colourblind-safe


SIGNED_SCALE = "RdBu_r"


def _image_axes(fig: go.Figure, rows: int, cols: int) -> None:
    """Square pixels, row 0 on top, no tick clutter."""
    for i in range(1, rows * cols + 1):
        suffix = "" if i == 1 else str(i)
        fig.update_layout(
            {
                f"xaxis{suffix}": {"visible": False, "constrain": "domain"},
                f"yaxis{suffix}": {
                    "visible": False,
                    "autorange": "reversed",
                    "scaleanchor": f"x{suffix}",
                    "constrain": "domain",
                },
            }
        )


def feature_map_figure(fm, cols: int = 4, shared_scale: bool = True, title: str | None = None) -> go.Figure:
    """A grid of the k most active channels (``probes.FeatureMaps``), each titled with its index and mean.

    ``shared_scale`` puts every map on one colour scale, so strong and weak channels compare.
    """
    k = len(fm.channels)
    cols = max(1, min(cols, k))
    rows = math.ceil(k / cols)
    titles = [_("ch {c}").format(c=c) for c in fm.channels]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.02, vertical_spacing=0.08)
    lo, hi = (float(fm.maps.min()), float(fm.maps.max())) if shared_scale else (None, None)
    signed = lo is not None and lo < 0 < hi
    if signed:
        lo, hi = -max(-lo, hi), max(-lo, hi)
    for i in range(k):
        fig.add_trace(
            go.Heatmap(
                z=fm.maps[i],
                zmin=lo,
                zmax=hi,
                colorscale=SIGNED_SCALE if signed else MAP_SCALE,
                showscale=i == 0,
                colorbar={"title": _("activation"), "len": 0.9},
                hovertemplate=_("channel {c} (mean {mean:.2f})").format(c=fm.channels[i], mean=fm.mean[fm.channels[i]])
                + "<br>x %{x}, y %{y}<br>%{z:.3f}<extra></extra>",
            ),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    _image_axes(fig, rows, cols)
    c, h, w = fm.shape
    title = title or _("{layer}: top {k} of {c} channels ({h}x{w})").format(layer=fm.layer, k=k, c=c, h=h, w=w)
    apply_style(fig, title, height=80 + 230 * rows)
    fig.update_annotations(font_size=FONT_SIZE - 2)
    return fig


def channel_stats_figure(fm) -> go.Figure:
    """Per-channel mean activation (bars, the top-k highlighted) and fraction of active positions."""
    idx = np.arange(len(fm.mean))
    top = set(int(c) for c in fm.channels)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    fig.add_trace(
        go.Bar(
            x=idx,
            y=fm.mean,
            marker_color=["#0072B2" if i in top else "#BBBBBB" for i in idx],
            name=_("mean"),
            error_y={"type": "data", "array": fm.std, "visible": True, "thickness": 1},
        ),
        row=1,
        col=1,
    )
    fig.add_trace(go.Bar(x=idx, y=fm.active, marker_color="#009E73", name=_("fraction > 0")), row=2, col=1)
    fig.update_yaxes(title_text=_("mean ± std"), row=1, col=1)
    fig.update_yaxes(title_text=_("fraction > 0"), range=[0, 1], row=2, col=1)
    fig.update_xaxes(title_text=_("channel"), row=2, col=1)
    title = _("{layer}: statistics of all {n} channels (blue: shown above)").format(layer=fm.layer, n=len(idx))
    apply_style(fig, title, height=520)
    fig.update_layout(showlegend=False)
    return fig


def _magnitude(a: np.ndarray | None, channel: int | None) -> np.ndarray | None:
    """(C, H, W) -> (H, W): one channel, or the L2 norm over channels at each position."""
    if a is None:
        return None
    return a[channel] if channel is not None else np.sqrt((a.astype(np.float64) ** 2).sum(0))


def residual_figure(d: dict, channel: int | None = None) -> go.Figure:
    """x, F(x), shortcut, x + F(x) and the block output side by side, norms in the titles, one colour scale.

    ``d`` is ``probes.residual_decomposition``'s result. Maps show the norm over channels at each position
    (or one ``channel``); a plain block shows x, F(x) and relu(F(x)).
    """
    parts = [("x", _("input x")), ("branch", _("branch F(x)"))]
    if d["residual"]:
        if d["shortcut"] is not None and d["shortcut"].shape != d["x"].shape:
            parts.append(("shortcut", _("shortcut(x)")))
        parts.append(("sum", _("F(x) + shortcut")))
    if not d.get("preact"):  # a pre-activation block's output is the sum itself (He et al. 2016)
        parts.append(("out", _("output relu(...)")))
    maps = {
        k: _magnitude(d[k], channel if k != "x" or d["x"].shape[0] > (channel or 0) else None) for k, _label in parts
    }
    titles = [f"{label}<br>‖·‖ = {d['norms'][k]:.1f}" for k, label in parts]
    fig = make_subplots(rows=1, cols=len(parts), subplot_titles=titles, horizontal_spacing=0.03)
    hi = max(float(np.max(m)) for m in maps.values())
    lo = min(float(np.min(m)) for m in maps.values())
    signed = channel is not None and lo < 0
    for i, (k, label) in enumerate(parts):
        fig.add_trace(
            go.Heatmap(
                z=maps[k],
                zmin=-max(hi, -lo) if signed else 0,
                zmax=max(hi, -lo) if signed else hi,
                colorscale=SIGNED_SCALE if signed else MAP_SCALE,
                showscale=i == len(parts) - 1,
                colorbar={"title": _("value") if signed else _("norm")},
                hovertemplate=f"{label}<br>%{{z:.3f}}<extra></extra>",
            ),
            row=1,
            col=i + 1,
        )
    _image_axes(fig, 1, len(parts))
    what = _("channel {c}").format(c=channel) if channel is not None else _("norm over channels")
    if d.get("preact"):
        title = _("{block}: pre-activation block, output = F(x) + shortcut, {what}").format(block=d["block"], what=what)
    elif d["residual"]:
        title = _("{block}: residual block, {what}").format(block=d["block"], what=what)
    else:
        title = _("{block}: plain block, {what}").format(block=d["block"], what=what)
    ratio = f"<br>‖F(x)‖ / ‖shortcut‖ = {d['ratio']:.2f}" if d.get("ratio") is not None else ""
    apply_style(fig, title + ratio, height=400)
    fig.update_annotations(font_size=FONT_SIZE - 1)
    fig.update_layout(margin={"t": 130})
    return fig


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
                x=[b for b, _r in rows],
                y=[r for _b, r in rows],
                mode="lines+markers",
                name=label,
                line={"color": col, "dash": dash, "width": width},
                marker={"size": 8},
                hovertemplate="%{x}: %{y:.2f}<extra>" + label + "</extra>",
            )
        )
    fig.update_yaxes(title_text="‖F(x)‖ / ‖shortcut(x)‖", rangemode="tozero")
    fig.update_xaxes(title_text=_("residual block"))
    return apply_style(fig, _("ResNet-20 at initialisation: how large is each block's F(x)?"), height=420)
