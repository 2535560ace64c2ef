"""The Train page's charts: loss and accuracy under one legend that leaves the plots their room; every layer
label the heat-map needs (the output layer's included)."""

import pytest

from explorer.charts.training import grad_norm_heatmap, training_curves
from explorer.i18n import language
from explorer.training.history import History, ModelHistory


def _history() -> History:
    """The degradation preset's four networks, with held-out evaluations (eight legend entries before)."""
    h = History(step=40)
    for depth in (20, 56):
        for residual in (False, True):
            name = f"{'ResNet' if residual else 'Plain'}-{depth}"
            layers = ["conv1", *(f"layer{i}.conv" for i in range(depth - 2)), "fc"]
            m = ModelHistory(name, {"depth": depth, "residual": residual}, layers, [])
            m.step, m.loss, m.accuracy = list(range(1, 41)), [2.0] * 40, [0.5] * 40
            m.eval_step, m.eval_accuracy, m.eval_loss = [20, 40], [0.4, 0.6], [1.5, 1.2]
            m.grad_norms = [[1e-2] * len(layers) for _ in range(40)]
            h.models[name] = m
    return h


def test_one_legend_entry_per_network_for_both_plots_and_a_key():
    fig = training_curves(_history())
    shown = [t.name for t in fig.data if t.showlegend is not False]
    assert shown[:4] == ["Plain-20", "ResNet-20", "Plain-56", "ResNet-56"]
    assert len(shown) == 6  # the four networks, "line: training" and "marker: held-out images"
    for t in fig.data:  # a click on a network hides its loss, its accuracy and its held-out markers together
        if t.legendgroup != "key":
            assert t.legendgroup in shown[:4]
    assert {t.xaxis for t in fig.data if t.legendgroup == "ResNet-56"} == {"x", "x2"}
    legend = fig.layout.legend
    assert legend.yref == "container" and legend.y == 0 and legend.yanchor == "bottom"  # below the axis titles
    assert fig.layout.margin.b >= 140  # room for the axis title and two rows of legend


def test_the_key_is_translated():
    with language("zh"):
        fig = training_curves(_history())
    names = [t.name for t in fig.data if t.legendgroup == "key"]
    assert names and all(not n.isascii() for n in names), names


@pytest.mark.parametrize("name", ["Plain-20", "Plain-56"])
def test_heatmap_labels_the_first_and_the_output_layer(name):
    m = _history().models[name]
    fig = grad_norm_heatmap(m)
    ticks = list(fig.layout.yaxis.tickvals)
    assert ticks[0] == "conv1" and ticks[-1] == "fc"
    rows = fig.layout.height - 140
    assert rows / len(m.layers) * (len(m.layers) / len(ticks)) >= 16  # labels never closer than 16 px


def _curves_as_go_figure(history: History, smooth: int = 10):
    """The curves as they were built before, through make_subplots and go.Scatter: the reference for the spec."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from explorer.charts.style import FONT_SIZE, TEMPLATE, apply_style
    from explorer.charts.training import KEY_COLOUR, _smooth, _styles

    models, styles = history.models, _styles(history.models)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Training loss", "Accuracy"), horizontal_spacing=0.15)
    for name, m in models.items():
        line = {"x": m.step, "mode": "lines", "line": styles[name], "legendgroup": name, "name": name}
        fig.add_trace(go.Scatter(y=_smooth(m.loss, smooth), **line), row=1, col=1)
        fig.add_trace(go.Scatter(y=100 * _smooth(m.accuracy, smooth), showlegend=False, **line), row=1, col=2)
        if m.eval_step:
            marker = {"color": styles[name]["color"], "size": 12, "symbol": "circle" if m.residual else "x"}
            fig.add_trace(
                go.Scatter(
                    x=m.eval_step, y=[100 * a for a in m.eval_accuracy], mode="markers", marker=marker,
                    legendgroup=name, showlegend=False, name=f"{name} held-out",
                ),
                row=1, col=2,
            )  # fmt: skip
        if m.stopped_reason:
            fig.add_annotation(
                x=m.stopped_step or 0, y=0, text=f"{name} stopped", showarrow=False, yanchor="bottom", row=1, col=1
            )
    grey = {"color": KEY_COLOUR}
    fig.add_trace(
        go.Scatter(
            x=[None], y=[None], mode="lines", line=grey, name="line: training, mean of 10 steps", legendgroup="key"
        )
    )
    if any(m.eval_step for m in models.values()):
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                marker={**grey, "size": 12},
                name="marker: held-out images",
                legendgroup="key",
            )
        )
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="cross-entropy loss", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="accuracy (%)", range=[0, 100], row=1, col=2)
    fig.update_layout(template=TEMPLATE)
    apply_style(fig, height=520)
    fig.update_layout(
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0, "xanchor": "left"},
        margin={"t": 50, "b": 150},
    )
    fig.update_annotations(selector={"text": "Training loss"}, font_size=FONT_SIZE + 2)
    fig.update_annotations(selector={"text": "Accuracy"}, font_size=FONT_SIZE + 2)
    return fig


@pytest.mark.parametrize("variant", ["held-out", "no held-out", "stopped"])
def test_the_curves_spec_is_what_the_go_figure_drew(variant):
    """The live curves are sent as a dict (no go.Figure per poll): validating it changes nothing, and it is the
    same JSON, number for number, as the figure built through make_subplots before."""
    from explorer.charts import spec
    from explorer.charts.training import training_curves_spec
    from tests.charts.test_chart_specs import as_json, assert_valid_as_is

    h = _history()
    for i, m in enumerate(h.models.values()):
        m.loss = [2.0 / (1 + 0.1 * s + 0.05 * i) for s in m.step]
        m.accuracy = [min(1.0, 0.1 + 0.02 * s + 0.01 * i) for s in m.step]
        if variant == "no held-out":
            m.eval_step, m.eval_accuracy, m.eval_loss = [], [], []
        if variant == "stopped" and i == 1:
            m.stopped_reason, m.stopped_step = "diverged", 30
    assert_valid_as_is(training_curves_spec(h))
    before = as_json(_curves_as_go_figure(h))
    assert before["layout"].pop("title") == {}  # apply_style's "no title" left an empty one
    assert as_json(spec.to_dict(training_curves_spec(h))) == before
