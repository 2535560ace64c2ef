"""Architecture diagram: the main path left to right, each residual block a box, its shortcut an arc.

Both diagrams (the whole network, one block) are drawn from ``explorer.charts.diagram``'s pieces; the constants
below are their geometry in data units, where box i is centred at x = i on the main path (y = 0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go

from explorer.charts import spec
from explorer.charts.diagram import arc, box, circle, line, note
from explorer.charts.gradients import log_ticks
from explorer.charts.misconceptions import ratio_text
from explorer.charts.style import PLAIN, RESIDUAL, STAGE_COLOURS, apply_style
from explorer.i18n import _

if TYPE_CHECKING:  # torch: the Learn page draws blocks without it
    from explorer.models.resnet import ResNet
    from explorer.models.summary_records import LayerInfo

# a shortcut's line, by kind: solid identity, dotted option A (no parameters), thick option B (a projection)
SHORTCUT_STYLE = {"identity": ("solid", 3), "A": ("dot", 3), "B": ("solid", 5)}

# the architecture: one box per stem, block and head, joined by short lines; a shortcut arcs over its block
NODE_HALF_WIDTH, NODE_HALF_HEIGHT = 0.38, 0.5
NODE_OPACITY = 0.85
ENDS_FILL = "#999999"  # stem and head
NAME_Y = -0.62  # a block's name, under its box
ARC_TOP, ARC_FOOT = 1.25, 0.05  # from the middle of the gap before the block to the middle of the gap after it
FULL_TEXT, SHORT_TEXT, ANY_TEXT = 8, 12, 22  # up to so many boxes: full labels, short ones, any text at all

# one block: the branch's operations at x = 1, 2, ..., the input x at 0, the addition one step after the last
OP_HALF_WIDTH = 0.42
CONV_HALF_HEIGHT, OP_HALF_HEIGHT = 0.45, 0.3  # a convolution stands taller than BN and ReLU
CONV_FILL, BN_FILL, OP_FILL = "#56B4E9", "#F0E442", "#E5E5E5"
ADD_RADIUS = 0.25
BLOCK_ARC_START, BLOCK_ARC_TOP = 0.1, 1.5  # from just right of x, landing on top of the addition's circle
RELU_AFTER, RELU_HALF_WIDTH = 0.95, 0.4  # the 2015 block's ReLU after the addition: its centre, past the addition
# past the addition: where the main line ends and "out" is written, for a pre-activation block (True) or not
OUT_AFTER = {True: (0.3, 0.4), False: (1.4, 1.5)}
ABOVE_Y, PLAIN_Y, BELOW_Y = 1.2, 1.0, -0.75  # the shortcut's label, the plain block's, the branch's


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
        return 15 if boxes <= SHORT_TEXT else 10
    return 13 if boxes <= FULL_TEXT else 11 if boxes <= SHORT_TEXT else 10


def _shortcut_kind(block) -> str:
    """ "identity", "A" (stride and zero-padding) or "B" (a projection): what carries x past the block."""
    from explorer.models.blocks import ShortcutA  # torch, which the model has already loaded

    ds = block.downsample
    return "identity" if ds is None else "A" if isinstance(ds, ShortcutA) else "B"


def _shortcut_line(kind: str) -> dict:
    dash, width = SHORTCUT_STYLE[kind]
    return {"color": RESIDUAL, "width": width, "dash": dash}


def _nodes(model: ResNet, blocks: list) -> list[tuple[str, object, str]]:
    """(name, block or the text of stem and head, fill colour) for each box, left to right."""
    preact = model.config.preact  # pre-activation: BN and ReLU open each block, and close the network
    stem = ("conv1" if preact else "conv1 + bn + relu") + (" + maxpool" if model.config.stem == "imagenet" else "")
    nodes = [("stem", stem, ENDS_FILL)]
    for name, block in blocks:
        stage = int(name[len("layer")].split(".")[0]) - 1
        nodes.append((name, block, STAGE_COLOURS[stage % len(STAGE_COLOURS)]))
    nodes.append(("head", ("bn + relu + " if preact else "") + "avgpool + fc", ENDS_FILL))
    return nodes


def _box_text(block, boxes: int) -> tuple[str, str]:
    """(the hover's full label, the text that fits the box): the full text up to FULL_TEXT boxes (ResNet-20's
    eleven ran into each other), then the short one, beyond SHORT_TEXT the output channels alone (ResNet-50)."""
    if isinstance(block, str):
        return block, block
    label = _block_label(block)
    if boxes <= FULL_TEXT:
        return label, label
    short = _short_block_label(block)
    return label, short.split("<br>")[-1] if boxes > SHORT_TEXT else short


def _box_notes(i: int, name: str, shown: str, boxes: int) -> list[dict]:
    """The text in box i and the block's name under it; beyond SHORT_TEXT boxes each stage is named once, under
    its first block ("layer2", from that box onwards), the rest is in the hover."""
    end = name in ("stem", "head")
    notes = [note(i, 0, name if end else shown, _box_font_size(boxes, end))]
    if end or (boxes > SHORT_TEXT and not name.endswith(".0")):
        return notes
    if boxes <= SHORT_TEXT:  # a 1024-pixel screen still fits ResNet-20's eleven names
        notes.append(note(i, NAME_Y, name, 12 if boxes <= FULL_TEXT else 10, textangle=0))
    else:
        notes.append(note(i - NODE_HALF_WIDTH, NAME_Y, name.split(".")[0], 10, textangle=0, xanchor="left"))
    return notes


def _hover(name: str, label: str, info: LayerInfo | None) -> str:
    detail = ""
    if info:
        shape = "x".join(map(str, info.out_shape))
        detail = "<br>" + _("out {shape}, {params:,} params").format(shape=shape, params=info.params)
    return f"<b>{name}</b><br>{label}{detail}"


def _path(nodes: list, layers: list[LayerInfo]) -> tuple[list[dict], list[dict], list[str]]:
    """The main path: (shapes: each box and the line into it, annotations, each box's hover text)."""
    infos = {r.name: r for r in layers}
    shapes, notes, hover = [], [], []
    for i, (name, block, fill) in enumerate(nodes):
        label, shown = _box_text(block, len(nodes))
        shapes.append(box(i, NODE_HALF_WIDTH, NODE_HALF_HEIGHT, fill, opacity=NODE_OPACITY))
        if i:
            shapes.append(line(i - 1 + NODE_HALF_WIDTH, i - NODE_HALF_WIDTH))
        hover.append(_hover(name, label, infos.get(name)))
        if len(nodes) <= ANY_TEXT:
            notes += _box_notes(i, name, shown, len(nodes))
    return shapes, notes, hover


def _shortcut_arcs(blocks: list, shortcut_scale: float | None) -> list[dict]:
    """An arc over each residual block (block i is box i), fading with the shortcut scale."""
    arcs = []
    for i, (_name, block) in enumerate(blocks, start=1):
        if block.residual:
            s = block.shortcut_scale if shortcut_scale is None else shortcut_scale
            style = _shortcut_line(_shortcut_kind(block))
            arcs.append(arc(i - 0.5, i + 0.5, ARC_TOP, (ARC_FOOT, ARC_FOOT), style, opacity=0.15 + 0.85 * s))
    return arcs


def _legend(model: ResNet, blocks: list) -> list[dict]:
    """Legend entries for the arc styles the diagram draws (a line trace with no points each)."""
    if model.config.residual:
        kinds = {_shortcut_kind(b) for _name, b in blocks}
        names = {
            "identity": _("identity shortcut"),
            "A": _("option A: stride + zero-pad"),
            "B": _("option B: 1x1 projection"),
        }
        entries = [(names[k], _shortcut_line(k)) for k in SHORTCUT_STYLE if k == "identity" or k in kinds]
    else:
        entries = [(_("plain: no shortcuts"), {"color": PLAIN, "width": 3, "dash": "solid"})]
    return [{"line": s, "mode": "lines", "name": t, "x": [None], "y": [None], "type": "scatter"} for t, s in entries]


def _hover_trace(hover: list[str]) -> dict:
    """Invisible markers on the boxes, carrying their hover text."""
    return {
        "hoverinfo": "text",
        "hovertext": hover,
        "marker": {"opacity": 0, "size": 30},
        "mode": "markers",
        "showlegend": False,
        "x": list(range(len(hover))),
        "y": [0] * len(hover),
        "type": "scatter",
    }


def architecture_spec(
    model: ResNet, layers: list[LayerInfo] | None = None, shortcut_scale: float | None = None
) -> dict:
    """Boxes for stem, blocks and head; arcs for shortcuts (solid identity, dotted option A, thick projection).

    The arcs fade with the shortcut scale (the model's own unless given); a plain network draws none.
    Plotly's dict (``explorer.charts.spec``): each student's own network gets its own, built without validation.
    """
    blocks = list(model.blocks())
    nodes = _nodes(model, blocks)
    shapes, notes, hover = _path(nodes, layers or [])
    layout = {
        "shapes": shapes + _shortcut_arcs(blocks, shortcut_scale),
        "xaxis": {"visible": False, "range": [-0.6, len(nodes) - 0.4]},
        "yaxis": {"visible": False, "range": [-0.8, 1.2], "fixedrange": True},
        "hovermode": "closest",
    }
    if notes:
        layout["annotations"] = notes
    if len(nodes) > ANY_TEXT:
        layout["width"] = max(900, 70 * len(nodes))
    title = _("{name}: {blocks} blocks, {stages} stages").format(
        name=model.config.name, blocks=len(blocks), stages=len(model.stages)
    )
    return spec.spec([_hover_trace(hover), *_legend(model, blocks)], layout, title, height=330)


def _block_ops(kind: str, channels: int, preact: bool) -> list[str]:
    """The branch's operations in order: "3x3 conv, 64", "BN", "ReLU", ..."""
    kernels = (3, 3) if kind == "basic" else (1, 3, 1)
    widths = (channels, channels) if kind == "basic" else (channels, channels, channels * 4)
    convs = [f"{k}x{k} conv, {c}" for k, c in zip(kernels, widths, strict=True)]
    if preact:  # BN and ReLU before each convolution
        return [op for conv in convs for op in ("BN", "ReLU", conv)]
    ops = [op for conv in convs for op in (conv, "BN", "ReLU")]
    return ops[:-1]  # the last ReLU comes after the addition


def _branch(ops: list[str]) -> tuple[list[dict], list[dict]]:
    """A box and its text for each operation of the branch, at x = 1, 2, ..."""
    shapes, notes = [], []
    for x, op in enumerate(ops, start=1):
        conv = "conv" in op
        fill = CONV_FILL if conv else BN_FILL if op == "BN" else OP_FILL
        shapes.append(box(x, OP_HALF_WIDTH, CONV_HALF_HEIGHT if conv else OP_HALF_HEIGHT, fill))
        notes.append(note(x, 0, op.replace(" conv, ", "<br>"), 13))
    return shapes, notes


def _shortcut(end: int, shortcut: str) -> tuple[list[dict], list[dict]]:
    """The addition at x = ``end`` and the shortcut arcing into it from x, with their labels."""
    label = {
        "identity": _("identity: x"),
        "A": _("option A: stride 2, zero-pad channels (no parameters)"),
        "B": _("option B: 1x1 conv + BN (projection)"),
    }[shortcut]
    feet = (BLOCK_ARC_START, ADD_RADIUS + 0.01)
    shapes = [
        circle(end, ADD_RADIUS, RESIDUAL, 3),
        arc(BLOCK_ARC_START, end, BLOCK_ARC_TOP, feet, _shortcut_line(shortcut)),
    ]
    notes = [
        note(end, 0, "<b>+</b>", 22, RESIDUAL),
        note(end / 2, ABOVE_Y, label, 15, RESIDUAL, bgcolor="white"),
        note(end / 2, BELOW_Y, _("F(x): the residual branch"), 15),
    ]
    return shapes, notes


def _plain_notes(end: int) -> list[dict]:
    return [
        note(end / 2, PLAIN_Y, _("plain: no shortcut, no addition"), 15, PLAIN),
        note(end / 2, BELOW_Y, _("H(x): the block must learn the whole mapping"), 15),
    ]


def _block_title(kind: str, residual: bool, preact: bool) -> str:
    if kind == "basic":
        title = _("Basic block") if residual else _("Basic block (plain)")
    else:
        title = _("Bottleneck block") if residual else _("Bottleneck block (plain)")
    return _("{block}, pre-activation (He et al. 2016)").format(block=title) if preact else title


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
    ops = _block_ops(kind, channels, preact)
    end = len(ops) + 1  # the addition
    line_end, out_x = (end + d for d in OUT_AFTER[preact])  # a pre-activation block's output leaves at the addition
    boxes, texts = _branch(ops)
    shapes = [line(0, line_end, layer="below"), *boxes]
    notes = [*texts, note(-0.1, 0, "<b>x</b>", 20, xanchor="right")]
    arcs, labels = _shortcut(end, shortcut) if residual else ([], _plain_notes(end))
    shapes += arcs
    notes += labels
    if not preact:  # the 2015 block's ReLU after the addition; a pre-activation block has none
        shapes.append(box(end + RELU_AFTER, RELU_HALF_WIDTH, OP_HALF_HEIGHT, OP_FILL))
        notes.append(note(end + RELU_AFTER, 0, "ReLU", 14))
    notes.append(note(out_x, 0, "<b>out</b>", 20, xanchor="left"))
    fig = go.Figure()  # shapes and notes into the layout at once: each fig.add_shape copies the whole layout
    fig.update_layout(shapes=shapes, annotations=notes)
    fig.update_xaxes(visible=False, range=[-0.7, end + 2.3])
    fig.update_yaxes(visible=False, range=[-1.0, 1.6], fixedrange=True)
    return apply_style(fig, _block_title(kind, residual, preact), height=300)


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
