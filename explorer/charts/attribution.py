"""Figures for attribution: Grad-CAM overlays, film-strip, method grid, randomisation curve, lesion plots.

Colour maps are plotly's own lists (inferno and cividis by default: perceptually uniform and colourblind-safe;
RdBu for signed raw maps, centred on 0), interpolated here with numpy, so no matplotlib is needed.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from explorer.attribution import METHOD_LABELS
from explorer.charts.style import FONT_SIZE, PLAIN, RESIDUAL, apply_style, colour
from explorer.experiments.lesion import LesionResult
from explorer.i18n import _
from explorer.trust import RandomisationResult

COLOURMAPS = {
    "inferno": pc.sequential.Inferno,
    "viridis": pc.sequential.Viridis,
    "cividis": pc.sequential.Cividis,
    "turbo": pc.sequential.Turbo,
    "rdbu": pc.diverging.RdBu[::-1],  # blue negative, red positive
}


def image_trace(rgb: np.ndarray) -> go.Image:
    """An RGB uint8 array as a plotly image sent as a PNG (a few KB instead of a JSON list of every pixel)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG")
    return go.Image(source="data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(), hoverinfo="skip")


MAX_HEATMAP_SIDE = 112  # the hover/colour layer of an overlay; Grad-CAM itself is 7x7 to 14x14 upsampled


def _anchors(name: str) -> np.ndarray:
    """(n, 3) anchor colours in [0, 255] for a colour map name."""
    if name not in COLOURMAPS:
        raise ValueError(f"unknown colour map {name!r}; choose one of {list(COLOURMAPS)}")
    out = []
    for c in COLOURMAPS[name]:
        rgb = pc.hex_to_rgb(c) if c.startswith("#") else pc.unlabel_rgb(c)
        out.append(rgb)
    return np.asarray(out, dtype=np.float64)


def colourise(values: np.ndarray, colourmap: str = "inferno", vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """Map an (H, W) array through a colour map: (H, W, 3) uint8; values outside [vmin, vmax] are clipped."""
    anchors = _anchors(colourmap)
    span = vmax - vmin if vmax > vmin else 1.0
    t = np.clip((np.nan_to_num(np.asarray(values, dtype=np.float64)) - vmin) / span, 0.0, 1.0)
    pos = t * (len(anchors) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(anchors) - 2)
    frac = (pos - lo)[..., None]
    rgb = anchors[lo] * (1 - frac) + anchors[lo + 1] * frac
    return np.round(rgb).astype(np.uint8)


def to_rgb_uint8(image) -> np.ndarray:
    """(H, W, 3) uint8 from (H, W, 3) or (3, H, W), uint8 or float in [0, 1] (a tensor is fine), or (H, W) grey."""
    a = np.asarray(image.detach().cpu() if hasattr(image, "detach") else image)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3):
        raise ValueError(f"expected an (H, W, 3) or (3, H, W) image, got shape {a.shape}")
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    if a.dtype != np.uint8:
        a = np.round(np.clip(a.astype(np.float64), 0.0, 1.0) * 255).astype(np.uint8)
    return a


def overlay_rgb(
    image,
    cam: np.ndarray,
    opacity: float = 0.5,
    colourmap: str = "inferno",
    signed: bool = False,
    vmax: float | None = None,
) -> np.ndarray:
    """Blend a colour-mapped map over the image: (H, W, 3) uint8.

    ``signed`` maps (raw Grad-CAM) use a diverging map centred on 0 over [-vmax, vmax]; pass the same ``vmax`` to
    two maps to compare their magnitudes (plain vs residual). Otherwise the map is shown over [0, vmax or 1].
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    img = to_rgb_uint8(image)
    cam = np.asarray(cam, dtype=np.float64)
    if cam.shape != img.shape[:2]:
        raise ValueError(f"map {cam.shape} and image {img.shape[:2]} differ in size")
    if signed:
        peak = vmax if vmax else float(np.abs(cam).max()) or 1.0
        colours = colourise(cam, "rdbu" if colourmap == "inferno" else colourmap, -peak, peak)
    else:
        colours = colourise(cam, colourmap, 0.0, vmax or 1.0)
    out = (1 - opacity) * img.astype(np.float64) + opacity * colours
    return np.round(out).astype(np.uint8)


def _image_axes(fig: go.Figure) -> None:
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)


def overlay_figure(
    image,
    cam: np.ndarray,
    opacity: float = 0.5,
    title: str | None = None,
    colourmap: str = "inferno",
    signed: bool = False,
    vmax: float | None = None,
) -> go.Figure:
    """The image with the map on top (opacity adjustable), a colour bar, and the map's value on hover."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    img = to_rgb_uint8(image)
    cam = np.asarray(cam, dtype=np.float64)
    if cam.shape != img.shape[:2]:
        raise ValueError(f"map {cam.shape} and image {img.shape[:2]} differ in size")
    if signed:
        peak = vmax if vmax else float(np.abs(cam).max()) or 1.0
        zmin, zmax, scale = -peak, peak, COLOURMAPS["rdbu"]
    else:
        zmin, zmax, scale = 0.0, vmax or 1.0, COLOURMAPS[colourmap]
    fig = go.Figure(image_trace(img))
    step = max(1, int(np.ceil(max(cam.shape) / MAX_HEATMAP_SIDE)))
    cam = cam[step // 2 :: step, step // 2 :: step]  # centre samples, drawn at the image's coordinates
    fig.add_trace(
        go.Heatmap(
            z=cam,
            x0=step // 2,
            dx=step,
            y0=step // 2,
            dy=step,
            zmin=zmin,
            zmax=zmax,
            colorscale=scale,
            opacity=opacity,
            colorbar={"title": {"text": _("evidence") if not signed else _("signed")}, "thickness": 18},
            hovertemplate="x %{x}, y %{y}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    _image_axes(fig)
    apply_style(fig, title, height=520)
    return fig


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
        titles += [label] + ([_(METHOD_LABELS.get(m, m)) for m in methods] if r == 0 else [""] * len(methods))
    fig = _grid(titles, cols, len(rows), 230)
    for r, maps in enumerate(rows.values(), start=1):
        fig.add_trace(image_trace(to_rgb_uint8(image)), row=r, col=1)
        for c, m in enumerate(methods, start=2):
            fig.add_trace(image_trace(overlay_rgb(image, maps[m], opacity)), row=r, col=c)
    _image_axes(fig)
    apply_style(fig, title or _("Attribution methods compared"))
    return fig


def _line_colour(label: str, i: int) -> str:
    if label.startswith("Plain"):
        return PLAIN
    if label.startswith("ResNet"):
        return RESIDUAL
    return pc.qualitative.Safe[i % len(pc.qualitative.Safe)]


def randomisation_figure(results: dict[str, RandomisationResult], metric: str = "spearman") -> go.Figure:
    """Rank correlation with the original map as layers are re-randomised from the top down, one line per result.

    Labels starting 'ResNet'/'Plain' get the app's residual/plain colours.
    """
    if metric not in ("spearman", "pearson", "top_overlap"):
        raise ValueError(f"metric must be spearman, pearson or top_overlap, got {metric!r}")
    fig = go.Figure()
    longest: list[str] = []
    for i, (label, res) in enumerate(results.items()):
        ys = getattr(res, metric)
        longest = res.steps if len(res.steps) > len(longest) else longest
        fig.add_trace(
            go.Scatter(
                x=list(range(len(ys))),
                y=ys,
                mode="lines+markers",
                name=label,
                text=res.steps,
                line={"color": _line_colour(label, i), "width": 3},
                marker={"size": 9},
                hovertemplate="%{text}: %{y:.2f}<extra>" + label + "</extra>",
            )
        )
    fig.add_hline(y=0, line={"color": "grey", "dash": "dot"})
    ticks = list(range(len(longest)))
    step = max(1, len(ticks) // 14)
    fig.update_xaxes(
        title=_("layers re-randomised (top down, cumulative)"), tickvals=ticks[::step], ticktext=longest[::step]
    )
    name = {
        "spearman": _("Spearman rank correlation with original"),
        "pearson": _("Pearson correlation with original"),
        "top_overlap": _("overlap of the top 10% with original"),
    }
    fig.update_yaxes(title=name[metric], range=[-1.05, 1.05] if metric != "top_overlap" else [0, 1.05])
    return apply_style(fig, _("Sanity check: does the map change when the model's weights do?"), height=520)


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
