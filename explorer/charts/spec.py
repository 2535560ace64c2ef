"""Figures as plotly's dict, built without a ``go.Figure``: for charts drawn once per student's own view.

Building a ``go.Figure`` validates and deep-copies on every ``add_trace`` and ``update_layout``: a grid of
16 heatmaps took about 0.1 s of CPU, the bulk of a view of the Inside page. A spec written in the form
plotly's validation gives back (``go.Figure(spec).to_dict() == spec``, which the tests check) draws the
same in the browser for a fraction of that. The pieces that need plotly's own arithmetic (subplot
domains, named colour scales, the template) come from plotly once and are kept; ``to_dict`` writes arrays
the way ``go.Figure.to_dict`` does.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import plotly.graph_objects as go
import plotly.io as pio
from _plotly_utils.utils import convert_to_base64
from plotly.subplots import make_subplots

from explorer.charts.style import TEMPLATE, style_layout


@lru_cache(maxsize=1)
def template() -> dict:
    """The app's plotly template (``style.TEMPLATE``) as a dict, shared by every spec: read-only.

    Named, not ``pio.templates.default``: importing Streamlit's chart element sets that to its own theme."""
    return pio.templates[TEMPLATE].to_plotly_json()


@lru_cache(maxsize=16)
def colorscale(name: str) -> list:
    """A named colour scale ("Viridis", "RdBu_r") as the list of [position, colour] plotly.js draws."""
    return [list(stop) for stop in go.Heatmap(colorscale=name).colorscale]


@lru_cache(maxsize=64)
def _grid(rows: int, cols: int, hspace: float, vspace: float, shared_xaxes: bool) -> dict:
    layout = make_subplots(
        rows=rows, cols=cols, horizontal_spacing=hspace, vertical_spacing=vspace, shared_xaxes=shared_xaxes
    ).to_dict()["layout"]
    layout.pop("template", None)
    return layout


def subplot_grid(
    rows: int,
    cols: int,
    titles: list[str] | None = None,
    hspace: float = 0.2,
    vspace: float = 0.3,
    shared_xaxes: bool = False,
    title_size: int = 16,
) -> dict:
    """The layout ``make_subplots`` gives (axes with their domains, a title over each cell), as a fresh dict.

    Cells are numbered row by row from the top left; cell i (0-based) uses axes ``axis_names(i)``.
    """
    layout = copy.deepcopy(_grid(rows, cols, hspace, vspace, shared_xaxes))
    notes = []
    for i, text in enumerate(titles or []):
        if not text or i >= rows * cols:
            continue
        x0, x1 = layout[f"xaxis{_suffix(i)}"]["domain"]
        notes.append(
            {
                "font": {"size": title_size},
                "showarrow": False,
                "text": text,
                "x": (x0 + x1) / 2.0,
                "xanchor": "center",
                "xref": "paper",
                "y": layout[f"yaxis{_suffix(i)}"]["domain"][1],
                "yanchor": "bottom",
                "yref": "paper",
            }
        )
    if notes:
        layout["annotations"] = notes
    return layout


def _suffix(i: int) -> str:
    return "" if i == 0 else str(i + 1)


def axis_names(i: int) -> dict:
    """A trace's axes in cell i (0-based) of a ``subplot_grid``."""
    return {"xaxis": f"x{_suffix(i)}", "yaxis": f"y{_suffix(i)}"}


def image_axes(layout: dict, cells: int) -> None:
    """Square pixels, row 0 on top, no tick clutter, in the first ``cells`` cells of a grid (in place)."""
    for i in range(cells):
        s = _suffix(i)
        layout[f"xaxis{s}"].update({"visible": False, "constrain": "domain"})
        layout[f"yaxis{s}"].update(
            {"visible": False, "autorange": "reversed", "scaleanchor": f"x{s}", "constrain": "domain"}
        )


def spec(data: list[dict], layout: dict, title: str | None = None, height: int | None = None) -> dict:
    """A figure dict in the app's style (``style.apply_style``), on the default template."""
    return {"data": data, "layout": {**layout, **style_layout(title, height), "template": template()}}


def to_dict(fig: dict) -> dict:
    """The spec as ``go.Figure.to_dict()`` gives it, ready to send: numpy arrays become plotly's typed arrays
    (base64, far smaller and quicker to encode than lists of numbers). Changes ``fig`` in place."""
    convert_to_base64(fig["data"])
    return fig


def as_dict(fig: dict | go.Figure) -> dict:
    """What a page sends for a chart function's figure: a spec through ``to_dict``, a ``go.Figure`` as its dict."""
    return to_dict(fig) if isinstance(fig, dict) else fig.to_dict()


def as_figure(fig: dict) -> go.Figure:
    """A spec as a validated ``go.Figure``: for scripts, exports and tests (the pages send the dict)."""
    return go.Figure(fig)
