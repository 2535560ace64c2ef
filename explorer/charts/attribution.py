"""Figures for attribution: Grad-CAM overlays, film-strip, method grid, the randomisation check of several methods.

Colour maps and blending live in ``explorer.charts.colors``; lesion plots in ``explorer.charts.lesion``.
"""

from __future__ import annotations

import base64
import functools
import io
import unicodedata

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from explorer.charts import spec
from explorer.charts.colors import COLOURMAPS, colour_range, overlay_inputs, overlay_rgb, to_rgb_uint8
from explorer.charts.style import FONT_SIZE, apply_style
from explorer.i18n import _
from explorer.interpret.methods import METHOD_LABELS
from explorer.interpret.trust import RandomisationResult


def image_trace(rgb: np.ndarray) -> go.Image:
    """An RGB uint8 array as a plotly image sent as a PNG (``image_source``)."""
    return go.Image(source=image_source(rgb), hoverinfo="skip")


MAX_HEATMAP_SIDE = 112  # the hover/colour layer of an overlay; Grad-CAM itself is 7x7 to 14x14 upsampled


def _image_axes(fig: go.Figure) -> None:
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)


def image_source(rgb: np.ndarray) -> str:
    """An RGB uint8 array as a PNG data URL (a few KB instead of a JSON list of every pixel)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


@functools.cache
def _colourscale(name: str) -> list:
    """A colour map of ``COLOURMAPS`` as the list of [position, colour] plotly.js draws (read-only)."""
    return [list(stop) for stop in go.Heatmap(colorscale=COLOURMAPS[name]).colorscale]


def overlay_spec(
    image,
    cam: np.ndarray,
    opacity: float = 0.5,
    title: str | None = None,
    colourmap: str = "inferno",
    signed: bool = False,
    vmax: float | None = None,
) -> dict:
    """The image with the map on top (opacity adjustable), a colour bar, and the map's value on hover, as
    plotly's dict (``explorer.charts.spec``: one per student's view, so built without validation)."""
    img, cam = overlay_inputs(image, cam, opacity)
    name, zmin, zmax = colour_range(cam, colourmap, signed, vmax)
    step = max(1, int(np.ceil(max(cam.shape) / MAX_HEATMAP_SIDE)))
    cam = cam[step // 2 :: step, step // 2 :: step]  # centre samples, drawn at the image's coordinates
    heatmap = {
        "colorbar": {"thickness": 18, "title": {"text": _("evidence") if not signed else _("signed")}},
        "colorscale": _colourscale(name),
        "dx": step,
        "dy": step,
        "hovertemplate": "x %{x}, y %{y}: %{z:.3f}<extra></extra>",
        "opacity": opacity,
        "x0": step // 2,
        "y0": step // 2,
        "z": cam,
        "zmax": zmax,
        "zmin": zmin,
        "type": "heatmap",
    }
    plain = {"showticklabels": False, "showgrid": False, "zeroline": False}
    layout = {"xaxis": plain, "yaxis": {"autorange": "reversed", "scaleanchor": "x", **plain}}
    data = [{"hoverinfo": "skip", "source": image_source(img), "type": "image"}, heatmap]
    return spec.spec(data, layout, two_lines(title, 26) if title else title, height=520)  # two networks side by side


def two_lines(text: str, width: int) -> str:
    """Text longer than ``width`` (in Latin characters; a Chinese one counts two) split in two at the break nearest
    its middle (plotly's ``<br>``): a space, or after a Chinese comma. Text without a break stays as it is."""
    wide = sum(unicodedata.east_asian_width(ch) in "WF" for ch in text)
    breaks = [(i, i + 1) for i, ch in enumerate(text) if ch == " "] + [
        (i + 1, i + 1) for i, ch in enumerate(text) if ch == "，"
    ]
    # never after a short word: "at layer3.2" stays on one line
    breaks = [(a, b) for a, b in breaks if 0 < a < len(text) and b < len(text) and len(text[:a].split(" ")[-1]) > 2]
    if len(text) + wide <= width or not breaks:
        return text
    a, b = min(breaks, key=lambda ab: abs(ab[0] - len(text) / 2))
    return f"{text[:a]}<br>{text[b:]}"


def _grid(titles: list[str], cols: int, rows: int, height_per_row: int) -> go.Figure:
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.01, vertical_spacing=0.08)
    fig.update_annotations(font_size=FONT_SIZE - 2)
    fig.update_layout(height=max(260, height_per_row * rows + 80))
    return fig


def filmstrip_figure(
    image, strip: list[tuple[str, np.ndarray]], opacity: float = 0.5, columns: int = 6, title: str | None = None
) -> go.Figure:
    """Grad-CAM at every block, left to right then down, each titled with its block name."""
    if not strip:
        raise ValueError("the film-strip is empty")
    cols = min(columns, len(strip))
    rows = -(-len(strip) // cols)
    fig = _grid([n for n, _cam in strip], cols, rows, 200)
    for i, (_name, cam) in enumerate(strip):
        fig.add_trace(image_trace(overlay_rgb(image, cam, opacity)), row=i // cols + 1, col=i % cols + 1)
    _image_axes(fig)
    apply_style(fig, title or _("Grad-CAM at every block: where the evidence for the class gathers"))
    return fig


def method_grid_figure(
    image, rows: dict[str, dict[str, np.ndarray]], opacity: float = 0.6, title: str | None = None
) -> go.Figure:
    """One row per model (e.g. 'ResNet-20', 'Plain-20'), one column per method, the image first."""
    if not rows:
        raise ValueError("no maps to show")
    methods = list(next(iter(rows.values())))
    cols = 1 + len(methods)
    titles = []
    for r, label in enumerate(rows):
        names = [two_lines(_(METHOD_LABELS.get(m, m)), 10) for m in methods]  # six columns on a laptop
        titles += [label] + (names if r == 0 else [""] * len(methods))
    fig = _grid(titles, cols, len(rows), 230)
    for r, maps in enumerate(rows.values(), start=1):
        fig.add_trace(image_trace(to_rgb_uint8(image)), row=r, col=1)
        for c, m in enumerate(methods, start=2):
            fig.add_trace(image_trace(overlay_rgb(image, maps[m], opacity)), row=r, col=c)
    _image_axes(fig)
    apply_style(fig, title or _("Attribution methods compared"))
    return fig


METHOD_COLOURS = {  # Okabe-Ito, apart from the plain/residual pair
    "gradcam": "#009E73",
    "guided_gradcam": "#CC79A7",
    "saliency": "#E69F00",
    "integrated_gradients": "#56B4E9",
}


def randomisation_methods_figure(checks: dict[str, dict[str, RandomisationResult]]) -> go.Figure:
    """The randomisation check of several methods, one panel per network, on one chart.

    ``checks``: network label -> (method -> result). Solid lines rank the signed maps, dotted lines their
    absolute values (Adebayo et al. 2018 report both); one colour per method.
    """
    if not checks:
        raise ValueError("no randomisation results")
    labels = list(checks)
    fig = make_subplots(rows=1, cols=len(labels), shared_yaxes=True, subplot_titles=labels, horizontal_spacing=0.04)
    for col, label in enumerate(labels, start=1):
        for method, res in checks[label].items():
            name = _(METHOD_LABELS.get(method, method))
            for values, dash, suffix in ((res.spearman, "solid", ""), (res.spearman_abs, "dot", " " + _("(absolute)"))):
                fig.add_trace(
                    go.Scatter(
                        x=list(range(len(values))),
                        y=values,
                        mode="lines+markers",
                        name=name + suffix,
                        legendgroup=method + suffix,
                        showlegend=col == 1,
                        text=res.steps,
                        line={"color": METHOD_COLOURS.get(method, "#444444"), "dash": dash, "width": 3},
                        marker={"size": 6},
                        hovertemplate="%{text}: %{y:.2f}<extra>" + name + suffix + "</extra>",
                    ),
                    row=1,
                    col=col,
                )
        steps = next(iter(checks[label].values())).steps
        every = max(1, len(steps) // 6)
        ticks = list(range(len(steps)))[::every]
        fig.update_xaxes(tickvals=ticks, ticktext=[steps[i] for i in ticks], row=1, col=col)
        fig.add_hline(y=0, line={"color": "grey", "dash": "dot"}, row=1, col=col)
    fig.update_yaxes(title_text=_("Spearman rank correlation with the original"), range=[-1.05, 1.05], row=1, col=1)
    fig.update_xaxes(title_text=_("layers re-randomised, top down"), row=1, col=1)
    apply_style(fig, _("Sanity check: which maps change when the weights do?"), height=640)
    fig.update_layout(legend={"y": -0.32}, margin={"b": 190})
    return fig
