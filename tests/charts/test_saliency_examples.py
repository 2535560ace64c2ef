"""Where the methods disagree: ten panels (the image, its outline, eight maps) in two rows of five, each wide enough
for its title; in one row they were 80 px wide and the titles ran into each other."""

import numpy as np

from explorer.charts.saliency import EXAMPLE_COLUMNS, examples_figure
from explorer.experiments.saliency_maps import METHOD_KEYS


def example(methods):
    rng = np.random.default_rng(0)
    return {
        "image": rng.integers(0, 256, (24, 24, 3)).tolist(),
        "mask": (rng.random((24, 24)) > 0.5).astype(float).tolist(),
        "maps": {m: rng.integers(0, 256, (24, 24)).tolist() for m in methods},
    }


def test_ten_panels_in_two_rows_of_five_each_under_its_title():
    fig = examples_figure(example(METHOD_KEYS))  # eight methods and the two baselines, which are not drawn
    assert len(fig.data) == 10 and EXAMPLE_COLUMNS == 5
    cells = {(t.xaxis, t.yaxis) for t in fig.data}
    assert len(cells) == 10  # one panel a cell
    rows = {tuple(fig.layout[f"yaxis{t.yaxis[1:]}"].domain) for t in fig.data}
    cols = {tuple(fig.layout[f"xaxis{t.xaxis[1:]}"].domain) for t in fig.data}
    assert len(rows) == 2 and len(cols) == 5
    width = min(b - a for a, b in cols)
    assert width > 0.18  # a fifth of the chart, less the gaps: at 700 px, 130 px for "Integrated Gradients"
    titles = [a.text for a in fig.layout.annotations]
    assert titles[:2] == ["image", "true outline"] and "Integrated Gradients" in titles and len(titles) == 10


def test_fewer_methods_make_fewer_columns():
    fig = examples_figure(example(["grad-cam", "saliency"]))
    assert len(fig.data) == 4
    assert len({tuple(fig.layout[f"yaxis{t.yaxis[1:]}"].domain) for t in fig.data}) == 1  # one row of four
