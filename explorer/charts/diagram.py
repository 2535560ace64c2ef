"""The pieces a block diagram is drawn with, as plotly's shape and annotation dicts in data coordinates.

The architecture and the block diagrams (``explorer.charts.model``) place these on a line at y = 0, left to right;
each function draws one kind of thing, so a diagram reads as what it shows: boxes, the lines between them, arcs.
"""

from __future__ import annotations

OUTLINE = "#333333"  # the outline of every box and the main path's line


def box(x: float, half_width: float, half_height: float, fill: str, **extra) -> dict:
    """A rectangle centred on (x, 0), outlined thinly."""
    return dict(
        type="rect",
        x0=x - half_width,
        x1=x + half_width,
        y0=-half_height,
        y1=half_height,
        fillcolor=fill,
        line={"color": OUTLINE, "width": 1},
        **extra,
    )


def line(x0: float, x1: float, width: int = 2, **extra) -> dict:
    """A piece of the main path along y = 0."""
    return dict(type="line", x0=x0, x1=x1, y0=0, y1=0, line={"color": OUTLINE, "width": width}, **extra)


def circle(x: float, radius: float, colour: str, width: int) -> dict:
    """A white disc on the main path (the addition), outlined in ``colour``."""
    return dict(
        type="circle",
        x0=x - radius,
        x1=x + radius,
        y0=-radius,
        y1=radius,
        fillcolor="white",
        line={"color": colour, "width": width},
    )


def arc(x0: float, x1: float, top: float, feet: tuple[float, float], style: dict, **extra) -> dict:
    """A shortcut: a cubic curve from (x0, feet[0]) over the path, pulled up to ``top``, down to (x1, feet[1]).

    ``style``: the curve's line (colour, width, dash)."""
    path = f"M {x0},{feet[0]} C {x0},{top} {x1},{top} {x1},{feet[1]}"
    return dict(type="path", path=path, line=style, **extra)


def note(x: float, y: float, text: str, size: int, colour: str | None = None, **extra) -> dict:
    """Text at (x, y), centred unless ``extra`` anchors it."""
    font = {"size": size} if colour is None else {"size": size, "color": colour}
    return dict(x=x, y=y, text=text, showarrow=False, font=font, **extra)
