"""The three myths' measurements: block parameter counts by hand, fit and gradient growth on real data."""

import math

import pytest

from explorer.charts.misconceptions import block_cost_figure, fit_figure, gradient_growth_figure
from explorer.experiments.misconceptions import block_costs, fits
from explorer.interpret.gradient_results import first_last_ratios
from explorer.interpret.gradients import depth_sweep
from explorer.training.history import History, ModelHistory


def test_block_costs_match_the_paper_arithmetic():
    basic, wide, bottleneck = block_costs()
    bn = lambda c: 2 * c  # noqa: E731  (BN weight and bias)
    assert basic.params == 2 * 9 * 64 * 64 + 2 * bn(64)
    assert wide.params == 2 * 9 * 256 * 256 + 2 * bn(256)
    assert bottleneck.params == 256 * 64 + 9 * 64 * 64 + 64 * 256 + 2 * bn(64) + bn(256)
    assert bottleneck.params < basic.params < wide.params / 10  # 256 channels for the price of a 64-channel block
    assert len(block_cost_figure([basic, wide, bottleneck]).data) == 1


def test_fits_read_training_and_heldout_accuracy():
    m = ModelHistory("Plain-8", {"residual": False, "depth": 8}, [], [], accuracy=[0.1] * 5 + [0.3] * 10)
    m.eval_accuracy = [0.2, 0.25]
    n = ModelHistory("ResNet-8", {"residual": True, "depth": 8}, [], [], accuracy=[0.9] * 3)
    out = fits(History(models={"Plain-8": m, "ResNet-8": n}))
    assert out[0].train_accuracy == pytest.approx(0.3) and out[0].heldout_accuracy == 0.25
    assert out[1].train_accuracy == pytest.approx(0.9) and out[1].heldout_accuracy is None
    assert len(fit_figure(out).data) == 2


def test_gradient_growth_figure_from_a_real_sweep():
    ratios = first_last_ratios(depth_sweep((8,), batch=8))
    fig = gradient_growth_figure(ratios)
    assert len(fig.data) == 3  # plain, residual and the guide's legend entry
    plain = next(t for t in fig.data if t.line.dash == "dash")
    assert list(plain.y) == [r["ratio"] for r in ratios if not r["residual"]]


def test_myth1_full_batch_run_overfits_with_shortcuts():
    """Myth 1's evidence: in the full-batch run ResNet-56 fits every training image and generalises no better than
    chance, so shortcuts are no regulariser (He et al. 2015, section 4.2 say the same of ResNet-1202)."""
    from pathlib import Path

    from explorer.training.runs import load_run

    path = Path(__file__).resolve().parents[2] / "assets" / "runs" / "degradation-full-batch"
    if not (path / "config.json").is_file():
        pytest.skip("assets/runs/degradation-full-batch is not there (make assets)")
    rows = {f.name: f for f in fits(load_run(path).history)}
    assert rows["ResNet-56"].train_accuracy == pytest.approx(1.0)
    assert rows["ResNet-56"].heldout_accuracy < 0.2


def test_ratio_labels_never_overlap_and_twins_are_written_once():
    """Myth 2's labels: at one depth no label covers another label or a marker (the residual ratio's label sat on
    the line at 1 and the guide on the last point before); equal values are labelled once."""
    from explorer.charts.misconceptions import LABEL, MARKER, label_positions, ratio_text

    span = 10.0  # decades on the axis
    points = [(20, 0.385), (20, 9.10), (20, 9.101), (20, 2.45), (56, 0.273), (56, 970.0), (110, 6.1e6), (110, 5.3e6)]
    where = label_positions(points, span)
    for depth in {d for d, _r in points}:
        boxes = []
        for (d, r), w in zip(points, where, strict=True):
            y = math.log10(r)
            if d == depth and w != "none":
                boxes.append((y + MARKER * span, y + (MARKER + LABEL) * span) if w == "top center" else
                             (y - (MARKER + LABEL) * span, y - MARKER * span))  # fmt: skip
        boxes.sort()
        assert all(a[1] <= b[0] for a, b in zip(boxes, boxes[1:], strict=False))
    assert where[0] == "bottom center" and where[4] == "bottom center"  # below 1: labelled away from the line
    assert [where[1], where[2]].count("none") == 1  # 9.10 and 9.101 are one label
    assert where[6] == "top center" and where[7] == "bottom center"  # close values: one above, one below
    assert ratio_text(6140306.09) == "6.1×10<sup>6</sup>" and ratio_text(969.85) == "970"


def test_gradient_guide_is_the_legend_entry_of_the_line_at_1():
    """The guide is no annotation over the plot (it met the labels): the dotted line's entry in the legend."""
    fig = gradient_growth_figure(
        [{"depth": 20, "residual": r, "ratio": v} for r, v in ((False, 9.1), (True, 0.385))]
        + [{"depth": 110, "residual": r, "ratio": v} for r, v in ((False, 6.1e6), (True, 0.6))]
    )
    assert not fig.layout.annotations
    guide = fig.data[-1]
    assert "vanishing" in guide.name and guide.line.dash == "dot" and list(guide.x) == [None]
    low, high = fig.layout.yaxis.range
    assert low < math.log10(0.385) - 0.5 and high > math.log10(6.1e6) + 0.5  # top label not clipped


def test_ratio_text_writes_powers_of_ten_alike_in_charts_and_tables():
    from explorer.charts.misconceptions import ratio_text

    assert ratio_text(6.14e6) == "6.1×10<sup>6</sup>"
    assert ratio_text(6.14e6, html=False) == "6.1×10⁶"
    assert ratio_text(1.23e12, html=False) == "1.2×10¹²"
    assert ratio_text(970.4, html=False) == ratio_text(970.4) == "970"
    assert ratio_text(0.385, html=False) == "0.385"
