"""Colour utilities: colour maps for attribution maps and an image blended with one.

Colour maps are plotly's own lists (inferno and cividis by default: perceptually uniform and colourblind-safe;
RdBu for signed raw maps, centred on 0), sampled with plotly's ``sample_colorscale``.
"""

from __future__ import annotations

import functools

import numpy as np
import plotly.colors as pc

COLOURMAPS = {
    "inferno": pc.sequential.Inferno,
    "viridis": pc.sequential.Viridis,
    "cividis": pc.sequential.Cividis,
    "turbo": pc.sequential.Turbo,
    "rdbu": pc.diverging.RdBu[::-1],  # blue negative, red positive
}
LOOKUP = 256  # colours sampled from each map


@functools.cache
def _lookup(name: str) -> np.ndarray:
    """(256, 3) colours in [0, 255] sampled from a colour map by plotly's ``sample_colorscale``."""
    if name not in COLOURMAPS:
        raise ValueError(f"unknown colour map {name!r}; choose one of {list(COLOURMAPS)}")
    samples = pc.sample_colorscale(list(COLOURMAPS[name]), np.linspace(0, 1, LOOKUP).tolist(), colortype="tuple")
    return np.asarray(samples, dtype=np.float64) * 255


def colourise(values: np.ndarray, colourmap: str = "inferno", vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """Map an (H, W) array through a colour map: (H, W, 3) uint8; values outside [vmin, vmax] are clipped."""
    lookup = _lookup(colourmap)
    span = vmax - vmin if vmax > vmin else 1.0
    t = np.clip((np.nan_to_num(np.asarray(values, dtype=np.float64)) - vmin) / span, 0.0, 1.0)
    return np.round(lookup[np.round(t * (LOOKUP - 1)).astype(int)]).astype(np.uint8)


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


def overlay_inputs(image, cam: np.ndarray, opacity: float) -> tuple[np.ndarray, np.ndarray]:
    """(image as (H, W, 3) uint8, map as float (H, W)), checked: opacity in [0, 1], map and image the same size."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    img = to_rgb_uint8(image)
    cam = np.asarray(cam, dtype=np.float64)
    if cam.shape != img.shape[:2]:
        raise ValueError(f"map {cam.shape} and image {img.shape[:2]} differ in size")
    return img, cam


def colour_range(cam: np.ndarray, colourmap: str, signed: bool, vmax: float | None) -> tuple[str, float, float]:
    """(colour map, low, high) for a map: signed maps (raw Grad-CAM) centred on 0 over [-vmax, vmax], on a
    diverging map unless another was chosen; others over [0, vmax or 1]."""
    if signed:
        peak = vmax if vmax else float(np.abs(cam).max()) or 1.0
        return ("rdbu" if colourmap == "inferno" else colourmap), -peak, peak
    return colourmap, 0.0, vmax or 1.0


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
    img, cam = overlay_inputs(image, cam, opacity)
    name, lo, hi = colour_range(cam, colourmap, signed, vmax)
    out = (1 - opacity) * img.astype(np.float64) + opacity * colourise(cam, name, lo, hi)
    return np.round(out).astype(np.uint8)
