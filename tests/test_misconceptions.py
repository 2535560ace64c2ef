"""The three myths' measurements: block parameter counts by hand, fit and gradient growth on real data."""

import pytest

from explorer.charts.misconceptions import block_cost_figure, fit_figure, gradient_growth_figure
from explorer.gradients import depth_sweep, first_last_ratios
from explorer.misconceptions import block_costs, fits
from explorer.recorders import History, ModelHistory


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
    assert len(fig.data) == 2  # plain and residual
    plain = next(t for t in fig.data if t.line.dash == "dash")
    assert list(plain.y) == [r["ratio"] for r in ratios if not r["residual"]]


def test_myth1_full_batch_run_overfits_with_shortcuts():
    """Myth 1's evidence: in the full-batch run ResNet-56 fits every training image and generalises no better than
    chance, so shortcuts are no regulariser (He et al. 2015, section 4.2 say the same of ResNet-1202)."""
    from pathlib import Path

    from explorer.runs import load_run

    path = Path(__file__).resolve().parents[1] / "assets" / "runs" / "degradation-full-batch"
    if not (path / "config.json").is_file():
        pytest.skip("assets/runs/degradation-full-batch is not there (make assets)")
    rows = {f.name: f for f in fits(load_run(path).history)}
    assert rows["ResNet-56"].train_accuracy == pytest.approx(1.0)
    assert rows["ResNet-56"].heldout_accuracy < 0.2
