"""Architecture diagram: the main path left to right, each residual block a box, its shortcut an arc."""

from __future__ import annotations

import plotly.graph_objects as go

from explorer.charts.style import PLAIN, RESIDUAL, STAGE_COLOURS, apply_style
from explorer.models import ResNet, ShortcutA
from explorer.summary import LayerInfo


def _block_label(block) -> str:
    convs = [m for m in block.children() if hasattr(m, "kernel_size") and hasattr(m, "out_channels")]
    return "<br>".join(f"{c.kernel_size[0]}x{c.kernel_size[0]}, {c.out_channels}" for c in convs)


def architecture_figure(
    model: ResNet, layers: list[LayerInfo] | None = None, shortcut_scale: float | None = None
) -> go.Figure:
    """Boxes for stem, blocks and head; arcs for shortcuts (solid identity, dotted option A, thick projection).

    The arcs fade with the shortcut scale (the model's own unless given); a plain network draws none.
    """
    shapes_by_name = {r.name: r for r in (layers or [])}
    fig = go.Figure()
    nodes = [("stem", "conv1 + bn + relu" + (" + maxpool" if model.config.stem == "imagenet" else ""), "#999999")]
    blocks = list(model.blocks())
    for name, block in blocks:
        stage = int(name[len("layer")].split(".")[0]) - 1
        nodes.append((name, _block_label(block), STAGE_COLOURS[stage % len(STAGE_COLOURS)]))
    nodes.append(("head", "avgpool + fc", "#999999"))
    show_text = len(nodes) <= 22
    hover_x, hover_y, hover_text = [], [], []
    for i, (name, label, fill) in enumerate(nodes):
        fig.add_shape(
            type="rect",
            x0=i - 0.38,
            x1=i + 0.38,
            y0=-0.5,
            y1=0.5,
            fillcolor=fill,
            opacity=0.85,
            line={"color": "#333333", "width": 1},
        )
        info = shapes_by_name.get(name)
        detail = f"<br>out {'x'.join(map(str, info.out_shape))}, {info.params:,} params" if info else ""
        hover_x.append(i)
        hover_y.append(0)
        hover_text.append(f"<b>{name}</b><br>{label}{detail}")
        if show_text:
            fig.add_annotation(
                x=i,
                y=0,
                text=label if name not in ("stem", "head") else name,
                showarrow=False,
                font={"size": (13 if len(nodes) <= 12 else 10) if name not in ("stem", "head") else 15},
            )
            if name not in ("stem", "head"):
                fig.add_annotation(x=i, y=-0.62, text=name, showarrow=False, font={"size": 12}, textangle=0)
        if i:
            fig.add_shape(type="line", x0=i - 0.62, x1=i - 0.38, y0=0, y1=0, line={"color": "#333333", "width": 2})
    for i, (_, block) in enumerate(blocks, start=1):
        if not block.residual:
            continue
        s = block.shortcut_scale if shortcut_scale is None else shortcut_scale
        ds = block.downsample
        dash = "dot" if isinstance(ds, ShortcutA) else "solid"
        width = 5 if ds is not None and not isinstance(ds, ShortcutA) else 3
        fig.add_shape(
            type="path",
            path=f"M {i - 0.5},0.05 C {i - 0.5},1.25 {i + 0.5},1.25 {i + 0.5},0.05",
            line={"color": RESIDUAL, "width": width, "dash": dash},
            opacity=0.15 + 0.85 * s,
        )
    fig.add_trace(
        go.Scatter(
            x=hover_x,
            y=hover_y,
            mode="markers",
            marker={"size": 30, "opacity": 0},
            hovertext=hover_text,
            hoverinfo="text",
            showlegend=False,
        )
    )
    # legend entries for the arc styles
    legend = [("identity shortcut", "solid", 3, RESIDUAL)]
    if any(isinstance(b.downsample, ShortcutA) for _, b in blocks):
        legend.append(("option A: stride + zero-pad", "dot", 3, RESIDUAL))
    if any(b.downsample is not None and not isinstance(b.downsample, ShortcutA) for _, b in blocks):
        legend.append(("option B: 1x1 projection", "solid", 5, RESIDUAL))
    if not model.config.residual:
        legend = [("plain: no shortcuts", "solid", 3, PLAIN)]
    for text, dash, width, col in legend:
        fig.add_trace(
            go.Scatter(x=[None], y=[None], mode="lines", name=text, line={"color": col, "dash": dash, "width": width})
        )
    fig.update_xaxes(visible=False, range=[-0.6, len(nodes) - 0.4])
    fig.update_yaxes(visible=False, range=[-0.8, 1.2], fixedrange=True)
    width = max(900, 70 * len(nodes))
    apply_style(fig, f"{model.config.name}: {len(blocks)} blocks, {len(model.stages)} stages", height=330)
    fig.update_layout(width=width if len(nodes) > 22 else None, hovermode="closest")
    return fig
