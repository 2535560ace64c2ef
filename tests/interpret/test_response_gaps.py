"""The layer-response comparison claims a difference only past a margin computed from the data."""

from pathlib import Path

import numpy as np
import pytest

from explorer.interpret.response_gaps import compare_responses, response_gap

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "experiments" / "layer_responses.json"


def test_margin_is_twice_the_standard_error_of_the_layer_by_layer_differences():
    plain, residual = [1.0, 1.2, 0.9, 1.1], [0.9, 1.0, 0.95, 1.0]
    d = np.subtract(plain, residual)
    gap = response_gap(20, plain, residual)
    assert gap.margin == pytest.approx(2 * d.std(ddof=1) / np.sqrt(len(d)))
    assert gap.difference == pytest.approx(d.mean())


@pytest.mark.parametrize(
    ("plain", "residual", "verdict"),
    [
        ([1.0, 1.1, 1.2, 1.3], [0.8, 0.9, 1.0, 1.1], "smaller"),  # 0.2 lower at every layer
        ([1.0, 1.1, 1.2, 1.3], [1.2, 1.3, 1.4, 1.5], "larger"),
        ([1.0, 1.1, 1.2, 1.3], [1.05, 1.05, 1.25, 1.25], "same"),  # +-0.05: no difference past the noise
    ],
)
def test_verdict_follows_the_margin(plain, residual, verdict):
    responses = [("Plain-8", False, 8, plain), ("ResNet-8", True, 8, residual)]
    assert [g.verdict for g in compare_responses(responses)] == [verdict]


def test_a_depth_without_its_twin_is_not_compared():
    assert compare_responses([("ResNet-20", True, 20, [1.0, 0.9])]) == []


def test_full_batch_run_claims_the_paper_only_at_depth_56():
    """0.920 against 0.930 at depth 20 is within the noise; 0.933 against 1.058 at depth 56 is not."""
    if not ASSETS.exists():
        pytest.skip("no precomputed layer responses (make assets)")
    from explorer.experiments.precompute import load_layer_responses

    runs = load_layer_responses(ASSETS.parent)
    if "degradation-full-batch" not in runs:
        pytest.skip("no full-batch run among the precomputed layer responses")
    gaps = {g.depth: g for g in compare_responses(runs["degradation-full-batch"])}
    assert gaps[20].verdict == "same" and abs(gaps[20].difference) < gaps[20].margin
    assert gaps[56].verdict == "smaller" and gaps[56].difference > gaps[56].margin
