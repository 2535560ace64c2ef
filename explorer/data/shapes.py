"""The built-in procedural dataset: ten classes of shapes, with each image's ground-truth mask.

Every shape lives in its own unit frame (circumradius 1) and is drawn by testing each pixel's
(u, v) against the class's region, all images at once with torch: no per-pixel Python loops.
Random position, scale, rotation and colours (foreground and background always contrast), plus
light Gaussian noise. Deterministic from the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from explorer.i18n import N_

# the class names are keys; N_ marks them for the catalogue, and pages show them through explorer.i18n._()
SHAPE_CLASSES = (
    N_("circle"),
    N_("ring"),
    N_("triangle"),
    N_("square"),
    N_("pentagon"),
    N_("hexagon"),
    N_("star"),
    N_("cross"),
    N_("bar"),
    N_("arrow"),
)
NOISE_STD = 0.04
CHUNK = 2048  # images per vectorised chunk: bounds the temporaries to a few tens of MB


@dataclass
class Shapes:
    """``images`` (N, 3, H, W) float32 in [0, 1], ``labels`` (N,) int64, ``masks`` (N, H, W) bool."""

    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor


def _polygon(r: torch.Tensor, phi: torch.Tensor, n: int) -> torch.Tensor:
    """Inside a regular n-gon of circumradius 1 with a vertex on the u axis."""
    sector = 2 * math.pi / n
    a = torch.remainder(phi, sector) - sector / 2
    return r * torch.cos(a) <= math.cos(math.pi / n)


def _star(r: torch.Tensor, phi: torch.Tensor, points: int = 5, inner: float = 0.45) -> torch.Tensor:
    """Inside a star: fold the angle into half a sector, then test against the edge inner -> outer vertex."""
    sector = 2 * math.pi / points
    a = (torch.remainder(phi, sector) - sector / 2).abs()  # 0 at an inner vertex, sector/2 at a tip
    px, py = r * torch.cos(a), r * torch.sin(a)
    tx, ty = math.cos(sector / 2), math.sin(sector / 2)  # the tip
    return (tx - inner) * py - ty * (px - inner) <= 0


def _region(label: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Boolean mask of class ``label`` in unit-frame coordinates (u, v), any shape."""
    name = SHAPE_CLASSES[label]
    if name in ("circle", "ring"):
        r2 = u * u + v * v
        return r2 <= 0.95**2 if name == "circle" else (r2 <= 1.0) & (r2 >= 0.6**2)
    if name in ("triangle", "square", "pentagon", "hexagon", "star"):
        r, phi = torch.sqrt(u * u + v * v), torch.atan2(v, u)
        if name == "star":
            return _star(r, phi)
        return _polygon(r, phi, {"triangle": 3, "square": 4, "pentagon": 5, "hexagon": 6}[name])
    au, av = u.abs(), v.abs()
    if name == "cross":
        return ((au <= 0.28) & (av <= 1.0)) | ((av <= 0.28) & (au <= 1.0))
    if name == "bar":
        return (au <= 1.0) & (av <= 0.26)
    # arrow: a shaft from the tail to the head's base, then a triangular head to the tip at u = 1
    shaft = (u >= -1.0) & (u <= 0.15) & (av <= 0.17)
    head = (u >= 0.15) & (u <= 1.0) & (av <= 0.62 * (1.0 - u) / 0.85)
    return shaft | head


def make_shapes(n: int, size: int = 32, seed: int = 0) -> Shapes:
    """Generate ``n`` shape images of ``size`` x ``size`` pixels, balanced over the ten classes.

    Returns:
        ``Shapes`` with images (n, 3, size, size) float32 in [0, 1], labels (n,), masks (n, size, size).
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an integer >= 8, got {size!r}")
    g = torch.Generator().manual_seed(int(seed))
    k = len(SHAPE_CLASSES)
    labels = (torch.arange(n) % k)[torch.randperm(n, generator=g)]
    radius = (0.26 + 0.2 * torch.rand(n, generator=g)) * size  # circumradius in pixels
    cx = radius + torch.rand(n, generator=g) * (size - 2 * radius)
    cy = radius + torch.rand(n, generator=g) * (size - 2 * radius)
    angle = torch.rand(n, generator=g) * 2 * math.pi
    bright = torch.rand(n, 1, generator=g) < 0.5  # bright shape on a dark ground, or the reverse
    fg = torch.rand(n, 3, generator=g) * 0.5 + 0.5
    bg = torch.rand(n, 3, generator=g) * 0.4
    fg, bg = torch.where(bright, fg, 1.0 - fg), torch.where(bright, bg, 1.0 - bg)
    noise = torch.randn(n, 3, size, size, generator=g) * NOISE_STD

    coords = torch.arange(size, dtype=torch.float32) + 0.5
    ys, xs = coords.view(1, size, 1), coords.view(1, 1, size)
    masks = torch.empty(n, size, size, dtype=torch.bool)
    for label in range(k):
        for idx in (labels == label).nonzero().squeeze(1).split(CHUNK):
            c, s = torch.cos(angle[idx]).view(-1, 1, 1), torch.sin(angle[idx]).view(-1, 1, 1)
            inv = 1.0 / radius[idx].view(-1, 1, 1)
            dx, dy = xs - cx[idx].view(-1, 1, 1), ys - cy[idx].view(-1, 1, 1)  # (B, 1, W), (B, H, 1)
            u = (dx * c).mul_(inv) + (dy * s).mul_(inv)  # (B, H, W)
            v = (dy * c).mul_(inv) - (dx * s).mul_(inv)
            masks[idx] = _region(label, u, v)
    m = masks.unsqueeze(1)  # (N, 1, H, W)
    bg = bg.view(n, 3, 1, 1)
    images = noise.add_(bg).add_(m * (fg.view(n, 3, 1, 1) - bg))
    return Shapes(images=images.clamp_(0.0, 1.0), labels=labels, masks=masks)
