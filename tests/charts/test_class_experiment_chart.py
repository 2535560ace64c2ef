"""The class chart: a dot per run in each panel, plain left of residual, medians and quartile whiskers by hand."""

import math

import pytest

from explorer.charts.class_experiment import OFFSET, class_figure

ROWS = (  # (depth, residual, seed, final loss, held-out accuracy)
    (20, False, 1, 1.0, 0.5),
    (20, False, 2, 2.0, 0.6),
    (20, False, 3, 4.0, 0.7),
    (20, True, 1, 0.5, 0.8),
    (56, True, 2, 0.25, math.nan),  # no held-out accuracy: a dot for the loss only
)


def traces(fig, name):
    return [t for t in fig.data if t.name == name]


def test_every_run_is_a_dot_beside_its_depth_with_median_and_quartiles():
    fig = class_figure((20, 56), ROWS, mine=(20, 1))
    loss_plain, acc_plain = traces(fig, "plain")
    assert sorted(loss_plain.y) == [1.0, 2.0, 4.0] and sorted(acc_plain.y) == [0.5, 0.6, 0.7]
    assert all(-OFFSET - 0.08 < x < -OFFSET + 0.08 for x in loss_plain.x)  # left of the 20-layer slot
    loss_res, acc_res = traces(fig, "residual")
    assert list(loss_res.y) == [0.5, 0.25] and list(acc_res.y) == [0.8]
    medians = [t for t in fig.data if t.name == "median and middle half (plain)"]
    assert list(medians[0].y) == [2.0]  # median of 1, 2, 4
    assert list(medians[0].error_y.array) == pytest.approx([1.0])  # q75 3.0 - median
    assert list(medians[0].error_y.arrayminus) == pytest.approx([0.5])  # median - q25 1.5
    mine = traces(fig, "your pair")
    assert [sorted(t.y) for t in mine] == [[0.5, 1.0], [0.5, 0.8]]


def test_no_pair_highlighted_for_the_teacher():
    assert not traces(class_figure((20, 56), ROWS), "your pair")
