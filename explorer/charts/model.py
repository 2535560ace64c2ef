"""Architecture diagram: the main path left to right, each residual block a box, its shortcut an arc."""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go

from explorer.charts import spec
from explorer.charts.gradients import log_ticks
from explorer.charts.misconceptions import ratio_text
from explorer.charts.style import PLAIN, RESIDUAL, STAGE_COLOURS, apply_style
from explorer.i18n import _

if TYPE_CHECKING:  # torch: the Learn page draws blocks without it
    from explorer.models.resnet import ResNet
    from explorer.models.summary_records import LayerInfo


def _convs(block) -> list:
    return [m for m in block.children() if hasattr(m, "kernel_size") and hasattr(m, "out_channels")]


def _block_label(block) -> str:
    """Every convolution of a block, one a line: "3x3, 16<br>3x3, 16" (the hover's text)."""
    return "<br>".join(f"{c.kernel_size[0]}x{c.kernel_size[0]}, {c.out_channels}" for c in _convs(block))


def _short_block_label(block) -> str:
    """What fits in a narrow box: the kernels in order and the block's output channels ("3·3<br>16",
    "1·3·1<br>256"); the hover keeps the full text."""
    convs = _convs(block)
    return "·".join(str(c.kernel_size[0]) for c in convs) + f"<br>{convs[-1].out_channels}" if convs else ""


def _box_font_size(boxes: int, end: bool) -> int:
    """Text that fits its box at 1024 px: smaller as the diagram holds more boxes (stem and head: their names)."""
    if end:
        return 15 if boxes <= 12 else 10
    return 13 if boxes <= 8 else 11 if boxes <= 12 else 10


def architecture_spec(
    model: ResNet, layers: list[LayerInfo] | None = None, shortcut_scale: float | None = None
) -> dict:
    """Boxes for stem, blocks and head; arcs for shortcuts (solid identity, dotted option A, thick projection).

    The arcs fade with the shortcut scale (the model's own unless given); a plain network draws none.
    Plotly's dict (``explorer.charts.spec``): each student's own network gets its own, built without validation.
    """
    from explorer.models.blocks import ShortcutA  # torch, which the model has already loaded

    shapes_by_name = {r.name: r for r in (layers or [])}
    shapes, notes = [], []
    stem = "conv1" if model.config.preact else "conv1 + bn + relu"  # pre-activation: BN, ReLU open each block
    nodes = [("stem", stem + (" + maxpool" if model.config.stem == "imagenet" else ""), "#999999")]
    blocks = list(model.blocks())
    for name, block in blocks:
        stage = int(name[len("layer")].split(".")[0]) - 1
        nodes.append((name, block, STAGE_COLOURS[stage % len(STAGE_COLOURS)]))
    nodes.append(("head", ("bn + relu + " if model.config.preact else "") + "avgpool + fc", "#999999"))
    show_text = len(nodes) <= 22
    hover_x, hover_y, hover_text = [], [], []
    for i, (name, block, fill) in enumerate(nodes):
        # the full text fits a box up to 8 boxes wide (ResNet-20 has 11: 3x3, 16 twice ran into its neighbours)
        label = block if isinstance(block, str) else _block_label(block)
        shown = label if isinstance(block, str) or len(nodes) <= 8 else _short_block_label(block)
        if len(nodes) > 12 and not isinstance(block, str):  # ResNet-50's 18 boxes: the output channels alone
            shown = shown.split("<br>")[-1]
        shapes.append(
            dict(
                type="rect",
                x0=i - 0.38,
                x1=i + 0.38,
                y0=-0.5,
                y1=0.5,
                fillcolor=fill,
                opacity=0.85,
                line={"color": "#333333", "width": 1},
            )
        )
        info = shapes_by_name.get(name)
        detail = (
            "<br>"
            + _("out {shape}, {params:,} params").format(shape="x".join(map(str, info.out_shape)), params=info.params)
            if info
            else ""
        )
        hover_x.append(i)
        hover_y.append(0)
        hover_text.append(f"<b>{name}</b><br>{label}{detail}")
        if show_text:
            notes.append(
                dict(
                    x=i,
                    y=0,
                    text=shown if name not in ("stem", "head") else name,
                    showarrow=False,
                    font={"size": _box_font_size(len(nodes), name in ("stem", "head"))},
                )
            )
            if name not in ("stem", "head") and (len(nodes) <= 12 or name.endswith(".0")):
                size = 12 if len(nodes) <= 8 else 10  # a 1024-pixel screen still fits ResNet-20's eleven names
                # more than 12 boxes: each stage named under its first block ("layer2"), the rest in the hover
                text = name if len(nodes) <= 12 else name.split(".")[0]
                note = dict(x=i, y=-0.62, text=text, showarrow=False, font={"size": size}, textangle=0)
                if len(nodes) > 12:
                    note.update(x=i - 0.38, xanchor="left")  # from the stage's first box onwards
                notes.append(note)
        if i:
            shapes.append(
                dict(type="line", x0=i - 0.62, x1=i - 0.38, y0=0, y1=0, line={"color": "#333333", "width": 2})
            )
    for i, (_name, block) in enumerate(blocks, start=1):
        if not block.residual:
            continue
        s = block.shortcut_scale if shortcut_scale is None else shortcut_scale
        ds = block.downsample
        dash = "dot" if isinstance(ds, ShortcutA) else "solid"
        width = 5 if ds is not None and not isinstance(ds, ShortcutA) else 3
        shapes.append(
            dict(
                type="path",
                path=f"M {i - 0.5},0.05 C {i - 0.5},1.25 {i + 0.5},1.25 {i + 0.5},0.05",
                line={"color": RESIDUAL, "width": width, "dash": dash},
                opacity=0.15 + 0.85 * s,
            )
        )
    data = [
        {
            "hoverinfo": "text",
            "hovertext": hover_text,
            "marker": {"opacity": 0, "size": 30},
            "mode": "markers",
            "showlegend": False,
            "x": hover_x,
            "y": hover_y,
            "type": "scatter",
        }
    ]
    # legend entries for the arc styles
    legend = [(_("identity shortcut"), "solid", 3, RESIDUAL)]
    if any(isinstance(b.downsample, ShortcutA) for _name, b in blocks):
        legend.append((_("option A: stride + zero-pad"), "dot", 3, RESIDUAL))
    if any(b.downsample is not None and not isinstance(b.downsample, ShortcutA) for _name, b in blocks):
        legend.append((_("option B: 1x1 projection"), "solid", 5, RESIDUAL))
    if not model.config.residual:
        legend = [(_("plain: no shortcuts"), "solid", 3, PLAIN)]
    for text, dash, width, col in legend:
        data.append(
            {
                "line": {"color": col, "dash": dash, "width": width},
                "mode": "lines",
                "name": text,
                "x": [None],
                "y": [None],
                "type": "scatter",
            }
        )
    layout = {
        "shapes": shapes,
        "xaxis": {"visible": False, "range": [-0.6, len(nodes) - 0.4]},
        "yaxis": {"visible": False, "range": [-0.8, 1.2], "fixedrange": True},
        "hovermode": "closest",
    }
    if notes:
        layout["annotations"] = notes
    if len(nodes) > 22:
        layout["width"] = max(900, 70 * len(nodes))
    title = _("{name}: {blocks} blocks, {stages} stages").format(
        name=model.config.name, blocks=len(blocks), stages=len(model.stages)
    )
    return spec.spec(data, layout, title, height=330)


def architecture_figure(
    model: ResNet, layers: list[LayerInfo] | None = None, shortcut_scale: float | None = None
) -> go.Figure:
    """``architecture_spec`` as a ``go.Figure``."""
    return spec.as_figure(architecture_spec(model, layers, shortcut_scale))


def block_figure(
    kind: str = "basic", shortcut: str = "identity", residual: bool = True, channels: int = 64, preact: bool = False
) -> go.Figure:
    """One block drawn as in the paper's Fig. 2 and 5: the branch F(x) left to right, the shortcut above.

    Args:
        kind: "basic" (3x3, 3x3) or "bottleneck" (1x1, 3x3, 1x1, expansion 4).
        shortcut: "identity", "A" (stride 2 + zero-padded channels) or "B" (1x1 projection + BN).
        residual: False draws the plain block: no shortcut, no addition.
        preact: He et al. 2016, Fig. 4(e): BN and ReLU before each conv, nothing after the addition.
    """
    if preact:
        size = {"basic": (channels, channels), "bottleneck": (channels, channels, channels * 4)}[kind]
        kernels = (3, 3) if kind == "basic" else (1, 3, 1)
        ops = [op for k, c in zip(kernels, size, strict=True) for op in ("BN", "ReLU", f"{k}x{k} conv, {c}")]
    elif kind == "basic":
        ops = [f"3x3 conv, {channels}", "BN", "ReLU", f"3x3 conv, {channels}", "BN"]
    else:
        ops = [
            f"1x1 conv, {channels}",
            "BN",
            "ReLU",
            f"3x3 conv, {channels}",
            "BN",
            "ReLU",
            f"1x1 conv, {channels * 4}",
            "BN",
        ]
    fig = go.Figure()
    shapes, notes = [], []  # into the layout at once: each fig.add_shape copies the whole layout
    xs = list(range(1, len(ops) + 1))
    end = len(ops) + 1
    main_colour = "#333333"
    line_end = end + (0.3 if preact else 1.4)  # a pre-activation block's output leaves at the addition
    shapes.append(
        dict(type="line", x0=0, x1=line_end, y0=0, y1=0, line={"color": main_colour, "width": 2}, layer="below")
    )
    for x, op in zip(xs, ops, strict=True):
        wide = "conv" in op
        fill = "#56B4E9" if wide else ("#F0E442" if op == "BN" else "#E5E5E5")
        shapes.append(
            dict(
                type="rect",
                x0=x - 0.42,
                x1=x + 0.42,
                y0=-0.45 if wide else -0.3,
                y1=0.45 if wide else 0.3,
                fillcolor=fill,
                line={"color": main_colour, "width": 1},
            )
        )
        notes.append(dict(x=x, y=0, text=op.replace(" conv, ", "<br>"), showarrow=False, font={"size": 13}))
    notes.append(dict(x=-0.1, y=0, text="<b>x</b>", showarrow=False, font={"size": 20}, xanchor="right"))
    if residual:
        shapes.append(
            dict(
                type="circle",
                x0=end - 0.25,
                x1=end + 0.25,
                y0=-0.25,
                y1=0.25,
                fillcolor="white",
                line={"color": RESIDUAL, "width": 3},
            )
        )
        notes.append(dict(x=end, y=0, text="<b>+</b>", showarrow=False, font={"size": 22, "color": RESIDUAL}))
        label = {
            "identity": _("identity: x"),
            "A": _("option A: stride 2, zero-pad channels (no parameters)"),
            "B": _("option B: 1x1 conv + BN (projection)"),
        }[shortcut]
        dash = "dot" if shortcut == "A" else "solid"
        shapes.append(
            dict(
                type="path",
                path=f"M 0.1,0.1 C 0.1,1.5 {end},1.5 {end},0.26",
                line={"color": RESIDUAL, "width": 5 if shortcut == "B" else 3, "dash": dash},
            )
        )
        notes.append(
            dict(x=end / 2, y=1.2, text=label, showarrow=False, font={"size": 15, "color": RESIDUAL}, bgcolor="white")
        )
        notes.append(dict(x=end / 2, y=-0.75, text=_("F(x): the residual branch"), showarrow=False, font={"size": 15}))
    else:
        notes.append(
            dict(
                x=end / 2,
                y=1.0,
                text=_("plain: no shortcut, no addition"),
                showarrow=False,
                font={"size": 15, "color": PLAIN},
            )
        )
        notes.append(
            dict(
                x=end / 2,
                y=-0.75,
                text=_("H(x): the block must learn the whole mapping"),
                showarrow=False,
                font={"size": 15},
            )
        )
    if not preact:  # the 2015 block's ReLU after the addition; a pre-activation block has none
        shapes.append(
            dict(
                type="rect",
                x0=end + 0.55,
                x1=end + 1.35,
                y0=-0.3,
                y1=0.3,
                fillcolor="#E5E5E5",
                line={"color": main_colour, "width": 1},
            )
        )
        notes.append(dict(x=end + 0.95, y=0, text="ReLU", showarrow=False, font={"size": 14}))
    out_x = end + (0.4 if preact else 1.5)
    notes.append(dict(x=out_x, y=0, text="<b>out</b>", showarrow=False, font={"size": 20}, xanchor="left"))
    fig.update_layout(shapes=shapes, annotations=notes)
    fig.update_xaxes(visible=False, range=[-0.7, end + 2.3])
    fig.update_yaxes(visible=False, range=[-1.0, 1.6], fixedrange=True)
    if kind == "basic":
        title = _("Basic block") if residual else _("Basic block (plain)")
    else:
        title = _("Bottleneck block") if residual else _("Bottleneck block (plain)")
    if preact:
        title = _("{block}, pre-activation (He et al. 2016)").format(block=title)
    return apply_style(fig, title, height=300)


def shortcut_scale_figure(points: list[tuple[float, float]], current: float, name: str) -> go.Figure:
    """The first/last gradient ratio (log scale) against the shortcut scale s: a line through the measured
    ``points`` ((s, ratio), s from 0 to 1) and a large marker at the slider's ``current`` s."""
    points = sorted(points)
    xs, ys = [s for s, _r in points], [r for _s, r in points]
    now = dict(points).get(current)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines+markers",
            name=_("{name}, measured at these s").format(name=name),
            line={"color": RESIDUAL, "width": 3},
            marker={"size": 8},
            hovertemplate="s = %{x:.2f}<br>" + _("first / last") + " %{y:.3g}<extra></extra>",
        )
    )
    if now is not None:
        fig.add_trace(
            go.Scatter(
                x=[current],
                y=[now],
                mode="markers+text",
                name=_("the slider's s"),
                marker={"color": PLAIN, "size": 18, "symbol": "diamond"},
                text=[ratio_text(now)],
                textposition="top center",
                hovertemplate="s = %{x:.2f}<br>" + _("first / last") + " %{y:.3g}<extra></extra>",
            )
        )
    fig.add_hline(y=1, line={"color": "#999999", "dash": "dot"})  # first and last layers equal
    fig.update_xaxes(title_text=_("shortcut scale s (0: plain twin, 1: residual)"), range=[-0.04, 1.04])
    fig.update_yaxes(
        type="log", title_text=_("first / last layer's gradient norm"), exponentformat="power", **log_ticks([*ys, 1])
    )
    apply_style(fig, _("First / last gradient ratio against s"), height=460)
    fig.update_layout(legend={"y": -0.3}, margin={"b": 110})  # under the x axis's title, not on it
    return fig
