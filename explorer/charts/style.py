"""One look for every chart: projector-readable fonts and the app's plain/residual colours."""

import plotly.graph_objects as go
import plotly.io as pio

# every figure starts from this template: plotly assigns the default without validating it, while
# update_layout(template=...) validates and copies the whole template for each figure (about 15 ms)
TEMPLATE = "plotly_white"
pio.templates.default = TEMPLATE

RESIDUAL = "#0072B2"  # blue (Okabe-Ito, colourblind-safe)
PLAIN = "#D55E00"  # vermillion
STAGE_COLOURS = ("#56B4E9", "#009E73", "#E69F00", "#CC79A7")
FONT_SIZE = 18
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")  # one per depth in a chart


def colour(residual: bool) -> str:
    """The app's colour for a residual or a plain network."""
    return RESIDUAL if residual else PLAIN


def style_layout(title: str | None = None, height: int | None = None) -> dict:
    """The layout of ``apply_style`` as a dict (for figures built as dicts: ``explorer.charts.spec``)."""
    layout = {
        "font": {"size": FONT_SIZE},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.18, "xanchor": "left", "x": 0},
        "margin": {"l": 60, "r": 20, "t": 70 if title else 30, "b": 60},
    }
    if title:
        layout["title"] = {"text": title, "font": {"size": FONT_SIZE + 4}}
    if height:
        layout["height"] = height
    return layout


def apply_style(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    """Large fonts, white background, the legend under the plot (it never covers the title or the data)."""
    fig.update_layout({"title": None, **style_layout(title, height)})  # no title: clears one set before
    return fig


def block_ticks(names: list[str]) -> list[list[str]]:
    """A multi-category x axis for block names: the stage ("layer2") under its blocks' indices ("0", "1", ...), so
    the 27 blocks of a ResNet-56 read level at 18 px where their full names ("layer2.0") would be cut or slanted."""
    stages, _dot, index = zip(*(n.rpartition(".") for n in names), strict=True) if names else ((), (), ())
    return [list(stages), list(index)]
