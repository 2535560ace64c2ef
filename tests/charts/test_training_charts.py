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
