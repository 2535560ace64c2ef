"""Loss-landscape figures (Li et al. 2018): contour maps and 3-D surfaces side by side on one colour scale,
the cross-section through the centre, and the init-to-trained line (Goodfellow et al. 2015).

Linear plots clip the loss at ``CAP`` as Li et al.'s plotting code does (contours from 0.1 to 10 every
0.5); the log option shows log10(loss) up to ``LOG_CAP``: far from the trained weights a deep network's loss
reaches 10^4 or, for a plain one, 10^13, and a colour scale that wide would leave the basins one colour.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.charts.style import FONT_SIZE, apply_style, colour
from explorer.charts.training import _shade
from explorer.experiments.landscape_records import Landscape, LossLine
from explorer.i18n import _

CAP = 10.0  # linear plots: loss above this is drawn at it (Li et al.'s vmax)
LOG_CAP = 1000.0  # log plots: likewise
LEVEL = 0.5  # linear contour spacing (Li et al.'s vlevel)
COLORSCALE = "Viridis"


# the camera far enough back that the cube, its tick labels and axis titles ("损失" too) fit inside a panel
CAMERA_EYE = {"x": 1.8, "y": 1.8, "z": 1.2}


def _is_residual(name: str) -> bool:
    return not name.startswith("Plain")


def _line_styles(names: list[str]) -> dict[str, dict]:
    """The training charts' look: plain dashed vermillion, residual solid blue, shallower lighter and thinner."""
    depth = {n: int(d) if (d := n.rpartition("-")[2]).isdigit() else 0 for n in names}
    depths = sorted(set(depth.values()))
    styles = {}
    for n in names:
        rank = depths.index(depth[n]) / max(1, len(depths) - 1)  # 0 shallowest .. 1 deepest
        styles[n] = {
            "color": _shade(colour(_is_residual(n)), 0.5 * (1 - rank)),
            "dash": "solid" if _is_residual(n) else "dash",
            "width": 2.5 + 1.5 * rank,
        }
    return styles


def _values(loss: np.ndarray, log: bool) -> np.ndarray:
    """What is drawn: log10(loss) clipped at LOG_CAP, or the loss clipped at CAP."""
    loss = np.asarray(loss, dtype=np.float64)
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(np.clip(loss, 1e-6, LOG_CAP))
    return np.minimum(loss, CAP)


def landscape_range(landscapes: list[Landscape], log: bool) -> tuple[float, float]:
    """One colour range for every panel: the range of what is drawn."""
    if not landscapes:
        return (0.0, 1.0)
    values = np.concatenate([_values(s.loss, log).ravel() for s in landscapes])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (0.0, 1.0)
    low, high = float(values.min()), float(values.max())
    return (low, high if high > low else low + 1.0)


def _colorbar(log: bool, low: float, high: float) -> dict:
    bar = {"title": {"text": _("loss")}, "len": 0.9}
    if log:  # ticks at powers of ten, labelled with the loss itself
        ticks = [t for t in range(math.floor(low), math.ceil(high) + 1) if low - 0.05 <= t <= high + 0.05]
        text = [f"{10.0**t:g}" for t in ticks]
        if ticks and ticks[-1] >= math.log10(LOG_CAP):
            text[-1] = f"≥{LOG_CAP:g}"
        bar |= {"tickvals": ticks, "ticktext": text}
    else:
        bar |= {"tickvals": [0, 2, 4, 6, 8, 10], "ticktext": ["0", "2", "4", "6", "8", "≥10"]}
    return bar


def _title(s: Landscape) -> str:
    return f"{s.network}<br><sup>" + _("centre loss {loss:.3g}").format(loss=s.center_loss) + "</sup>"


def _panels(kind: str, titles: list[str]) -> go.Figure:
    """One panel per landscape: side by side for contours; one above the other for surfaces (a 3-D panel half a page
    wide cuts its own axis text)."""
    n = max(1, len(titles))
    if kind == "surface":
        return make_subplots(n, 1, specs=[[{"type": "surface"}] for _panel in range(n)], subplot_titles=titles,
                             vertical_spacing=0.12 / n)  # fmt: skip
    return make_subplots(1, n, specs=[[{"type": "xy"} for _panel in range(n)]], subplot_titles=titles,
                         horizontal_spacing=0.06)  # fmt: skip


def _add_contour(fig: go.Figure, i: int, trace: dict, log: bool) -> None:
    """A landscape as a contour map in panel i (from 1), its centre (the trained weights) marked with an x."""
    contours = {"coloring": "heatmap", "showlines": True}
    if not log:
        contours |= {"start": 0.1, "end": CAP, "size": LEVEL}
    fig.add_trace(
        go.Contour(**trace, contours=contours, line={"width": 0.6, "color": "rgba(255,255,255,0.6)"}, ncontours=24),
        1, i,
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(x=[0], y=[0], mode="markers", marker={"symbol": "x", "size": 12, "color": "white"},
                   hoverinfo="skip", showlegend=False),
        1, i,
    )  # fmt: skip
    fig.update_xaxes(title_text=_("direction 1"), row=1, col=i, constrain="domain")
    fig.update_yaxes(
        title_text=_("direction 2") if i == 1 else None, row=1, col=i, scaleanchor=f"x{i if i > 1 else ''}"
    )


def _add_surface(fig: go.Figure, i: int, trace: dict, zaxis: dict) -> None:
    """A landscape as a 3-D surface in panel i (from 1), its height axis ``zaxis``."""
    fig.add_trace(go.Surface(**trace), i, 1)
    small = {"size": FONT_SIZE - 6}
    fig.update_layout(
        {"scene" if i == 1 else f"scene{i}": {
            "zaxis": {**zaxis, "tickfont": small},
            "xaxis": {"title": _("dir. 1"), "tickfont": small}, "yaxis": {"title": _("dir. 2"), "tickfont": small},
            "camera": {"eye": CAMERA_EYE}, "aspectmode": "cube",
        }}
    )  # fmt: skip


def landscape_figure(
    landscapes: list[Landscape], kind: str = "contour", log: bool = True, zrange: tuple[float, float] | None = None
) -> go.Figure:
    """The landscapes on one colour scale: side by side as contours (2-D maps), one above the other as 3-D
    surfaces (``kind`` "contour" or "surface").

    Args:
        landscapes: computed with the same direction seed and span (plain and residual twins, say).
        log: colour (and height) by log10(loss); otherwise by the loss clipped at CAP.
        zrange: the colour range (``landscape_range`` of a larger set, to compare figures); default: these.
    """
    if kind not in ("contour", "surface"):
        raise ValueError(f"kind must be 'contour' or 'surface', got {kind!r}")
    fig = _panels(kind, [_title(s) for s in landscapes])
    low, high = zrange or landscape_range(landscapes, log)
    bar = _colorbar(log, low, high)
    ticks = {k: v for k, v in bar.items() if k in ("tickvals", "ticktext")}
    zaxis = {"range": [low, high], "title": _("loss"), **ticks}
    for i, s in enumerate(landscapes, start=1):
        hover = "a %{x:.2f}, b %{y:.2f}<br>" + _("loss") + " %{text}<extra>" + s.network + "</extra>"
        text = np.vectorize(lambda v: f"{v:.4g}")(s.loss)
        trace = dict(x=s.x, y=s.y, z=_values(s.loss, log), text=text, hovertemplate=hover, coloraxis="coloraxis")
        if kind == "contour":
            _add_contour(fig, i, trace, log)
        else:
            _add_surface(fig, i, trace, zaxis)
    fig.update_layout(coloraxis={"colorscale": COLORSCALE, "cmin": low, "cmax": high, "colorbar": bar})
    fig.update_annotations(font_size=FONT_SIZE)
    apply_style(fig, height=500 if kind == "contour" else 60 + 520 * max(1, len(landscapes)))
    return fig.update_layout(margin={"t": 90})


def cross_section_figure(landscapes: list[Landscape], log: bool = True) -> go.Figure:
    """The loss along direction 1 through the centre (direction 2 at 0) of each landscape."""
    fig = go.Figure()
    styles = _line_styles([s.network for s in landscapes])
    for s in landscapes:
        mid = len(s.y) // 2
        fig.add_trace(
            go.Scatter(x=s.x, y=s.loss[mid], name=s.network, mode="lines+markers", line=styles[s.network],
                       marker={"size": 5})
        )  # fmt: skip
    fig.update_xaxes(title_text=_("distance along direction 1 (0: the trained weights)"))
    fig.update_yaxes(
        title_text=_("loss"), type="log" if log else "linear", range=None if log else [0, CAP], dtick=1 if log else None
    )
    return apply_style(fig, _("Cross-section through the centre"), height=420)


def line_figure(lines: list[LossLine], log: bool = True) -> go.Figure:
    """Loss along 1-D lines: init-to-trained (alpha 0 = initial weights, 1 = trained) or along direction 1."""
    fig = go.Figure()
    styles = _line_styles([line.network for line in lines])
    for line in lines:
        fig.add_trace(
            go.Scatter(x=line.alpha, y=line.loss, name=line.network, mode="lines+markers", line=styles[line.network],
                       marker={"size": 5})
        )  # fmt: skip
    init = all(line.kind == "init" for line in lines)
    fig.update_xaxes(
        title_text=_("alpha: 0 = initial weights, 1 = trained weights") if init else _("distance along direction 1")
    )
    fig.update_yaxes(title_text=_("loss"), type="log" if log else "linear")
    return apply_style(
        fig, _("From the initial to the trained weights") if init else _("Along one direction"), height=420
    )
