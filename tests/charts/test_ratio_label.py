"""The F(x) ratio's axis label names what ``probes.branch_ratios`` divides by: ‖shortcut(x)‖, which is not ‖x‖
where a block changes shape (option A subsamples x and pads zero channels)."""

import pytest
import torch

from explorer.charts.inside import zero_gamma_figure
from explorer.interpret.probes import branch_ratios, residual_decomposition
from explorer.models.resnet import build_resnet

LABEL = "‖F(x)‖ / ‖shortcut(x)‖"


def test_branch_ratios_divide_by_the_shortcut_and_the_axis_says_so():
    model = build_resnet(depth=20, width=8, seed=0, shortcut="A")
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    ratios = branch_ratios(model, x)
    for name, ratio in ratios:
        d = residual_decomposition(model, name, x)
        by_shortcut, by_x = d["norms"]["branch"] / d["norms"]["shortcut"], d["norms"]["branch"] / d["norms"]["x"]
        assert ratio == pytest.approx(by_shortcut, rel=1e-5), name
        if name in ("layer2.0", "layer3.0"):  # option A: every second pixel, new channels zero
            assert d["reshapes"] and d["norms"]["shortcut"] < 0.8 * d["norms"]["x"], name
            assert ratio > 1.2 * by_x, name  # dividing by ||x|| would understate it
        else:
            assert ratio == pytest.approx(by_x, rel=1e-5), name  # an identity shortcut is x itself
    fig = zero_gamma_figure({"standard": ratios})
    assert fig.layout.yaxis.title.text == LABEL
    assert list(fig.data[0].y) == [r for _n, r in ratios]
    # the blocks read level at 1024 px: the stage under its blocks' indices, not "layer1.0" slanted into the legend
    assert [list(level) for level in fig.data[0].x] == [
        ["layer1"] * 3 + ["layer2"] * 3 + ["layer3"] * 3,
        list("012") * 3,
    ]
