"""The gradient by path length, as Veit et al. 2016 draw it in Fig. 6: how many paths have each length, the gradient one
path of that length carries, and their product, the share of the whole gradient each length carries."""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.charts.style import DASHES, PLAIN, RESIDUAL, apply_style
from explorer.i18n import _
from explorer.interpret.paths import SHARE, PathResult


def _lengths(r: PathResult) -> list[int]:
    return list(range(r.blocks + 1))


def _residual_traces(fig: go.Figure, i: int, r: PathResult) -> None:
    """One network's three curves, dashed by its place among the networks."""
    line = {"color": RESIDUAL, "dash": DASHES[i % len(DASHES)], "width": 3}
    ks = _lengths(r)
    group = {"legendgroup": r.network, "line": line, "mode": "lines+markers", "marker": {"size": 5}}
    fig.add_trace(go.Scatter(x=ks, y=[float(p) for p in r.paths], name=r.network, **group), row=1, col=1)
    se = [0.0 if math.isnan(s) else s for s in r.se]
    error = {"type": "data", "array": se, "visible": True, "thickness": 1}
    fig.add_trace(go.Scatter(x=ks, y=r.mean, error_y=error, showlegend=False, **group), row=2, col=1)
    fig.add_trace(go.Scatter(x=ks, y=r.total, showlegend=False, **group), row=3, col=1)


def path_lengths_figure(results: list[PathResult], plain: list[PathResult] | None = None) -> go.Figure:
    """Three panels on one length axis: (a) paths per length (log), (b) gradient norm of one path, mean and standard
    error (log), (c) the total per length (normalised to sum 1), each network's effective range as a bar above its
    curve. ``plain``: plain twins, one path of full length each, drawn as a single bar."""
    if not results:
        raise ValueError("no path-length results")
    titles = (
        _("(a) Number of paths of each length"),
        _("(b) Gradient norm of one path of that length"),
        _("(c) Total gradient of all paths of that length"),
    )
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, subplot_titles=titles, vertical_spacing=0.07)
    for i, r in enumerate(results):
        _residual_traces(fig, i, r)
    top = max(max(r.total) for r in results)
    for i, r in enumerate(results):  # the effective range, one bar per network above the curves
        lo, hi = r.effective_range
        label = _("{name}: {pct:.0%} of the gradient in paths of {lo} to {hi} blocks").format(
            name=r.network, pct=SHARE, lo=lo, hi=hi
        )
        fig.add_trace(
            go.Scatter(
                x=[lo, hi], y=[top * (1.05 + 0.06 * i)] * 2, mode="lines+markers", name=label,
                line={"color": RESIDUAL, "dash": DASHES[i % len(DASHES)], "width": 6}, marker={"symbol": "line-ns-open", "size": 14},
            ),
            row=3, col=1,
        )  # fmt: skip
    for p in plain or []:
        n = p.blocks
        bar = {"marker": {"color": PLAIN}, "width": 0.9, "legendgroup": p.network}
        name = _("{name}: one path, of all {n} blocks").format(name=p.network, n=n)
        fig.add_trace(go.Bar(x=[n], y=[1.0], name=name, **bar), row=1, col=1)
        fig.add_trace(go.Bar(x=[n], y=[p.mean[n]], showlegend=False, **bar), row=2, col=1)
        fig.add_trace(go.Bar(x=[n], y=[1.0], showlegend=False, **bar), row=3, col=1)
        fig.add_annotation(  # beside its bar, below the range bars (above them it ran into the panel's title)
            x=n, y=top * 0.75, xanchor="right", xshift=-6, text="100%", showarrow=False, font={"color": PLAIN},
            row=3, col=1,
        )  # fmt: skip
    power = {"type": "log", "exponentformat": "power", "dtick": 4}  # 10⁻¹⁶, not plotly's SI "1a"
    fig.update_yaxes(title_text=_("paths"), **power, row=1, col=1)
    fig.update_yaxes(title_text=_("gradient norm"), **power, row=2, col=1)
    fig.update_yaxes(range=[0, top * (1.12 + 0.06 * len(results))], title_text=_("share"), row=3, col=1)
    fig.update_xaxes(title_text=_("path length (residual branches crossed)"), row=3, col=1)
    fig.update_layout(barmode="overlay")
    return apply_style(fig, height=980)
