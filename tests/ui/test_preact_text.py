"""What the pages say of He et al. 2016 (eq. 5, section 4.2, Tables 3 and 4), checked against the app's own sweep."""

from pathlib import Path

import pytest

from explorer import i18n
from explorer.interpret.gradient_results import first_last_ratios
from explorer.ui.preact_sections import gradient_text, relu_place_text

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "experiments"


@pytest.fixture(scope="module")
def rows():
    from explorer.experiments.precompute import load_sweep

    sweep = load_sweep(ASSETS)
    if not sweep or not any(s.preact for s in sweep):
        pytest.skip("the precomputed sweep with 2016 networks is not there (make assets)")
    return first_last_ratios(sweep)


def _ratio(rows, depth, residual, preact):
    return next(r["ratio"] for r in rows if (r["depth"], r["residual"], r["preact"]) == (depth, residual, preact))


def test_eq5_is_hedged_and_the_ratio_is_a_proxy(rows):
    text = gradient_text(rows)
    assert "cannot vanish" not in text and "unlikely to vanish" in text
    assert "as eq. 5 predicts" not in text and "proxy" in text and "∂L/∂x_l" in text
    assert "between 0.1 and 10" in text


def test_every_number_is_the_sweeps_and_the_growth_is_said(rows):
    text = gradient_text(rows)
    first, last = _ratio(rows, 20, True, True), _ratio(rows, 110, True, True)
    assert f"{first:.3g} at 20 layers to {last:.3g} at 110" in text  # 2.45 -> 11.8
    old = [r["ratio"] for r in rows if r["residual"] and not r["preact"]]
    assert f"between {min(old):.3g} and {max(old):.3g}" in text  # the 2015 ResNets, below 1 yet not vanishing
    assert "grows with every step in depth, which eq. 5 does not predict" in text
    assert "passes 10 at depth 110" in text  # 11.8: past the band, said rather than hidden
    assert "e+0" not in text and "×10⁶" in text  # the plain twins' 5.3×10⁶ as the charts write it


def test_a_sweep_inside_the_band_reads_as_consistent_and_claims_no_growth():
    rows = [
        {"depth": d, "residual": res, "preact": pre, "ratio": v}
        for d, vals in ((20, (2.0, 0.4, 9.0)), (56, (1.5, 0.3, 900.0)), (110, (3.0, 0.6, 6e6)))
        for (res, pre), v in zip(((True, True), (True, False), (False, True)), vals, strict=True)
    ]
    text = gradient_text(rows)
    assert "stays in that band at every depth: consistent with eq. 5" in text
    assert "grows" not in text and "passes 10" not in text
    low = gradient_text([{**r, "ratio": 0.05} if r["residual"] and r["preact"] else r for r in rows])
    assert "falls below 0.1 at depth 20, 56, 110" in low and "consistent" not in low


def test_the_paper_is_cited_where_it_says_it():
    summary = {"rows": [
        {"seed": s, "network": n, "preact": pre, "train_loss": loss, "train_accuracy": 0.9, "heldout_accuracy": 0.8}
        for s in (0, 1, 2) for n, pre, loss in (("ResNet-56", False, 0.1), ("ResNet-56 (pre-act)", True, 0.2))
    ]}  # fmt: skip
    text = relu_place_text(summary)
    assert "section 4.3" not in text and "section 4.2 and Figs. 1 and 6" in text
    assert "4.62%" in text and "Table 4" in text and "mini-batch 64" in text and "median of 5 runs" in text
    assert "7.61% -> 4.92%" in text and "Table 3" in text
    with i18n.language("zh"):
        zh = relu_place_text(summary)
    assert "第 4.3 节" not in zh and "第 4.2 节" in zh and "表 4" in zh


def test_chinese_sentences_follow_one_another_without_a_space(rows):
    """English puts a space between sentences; Chinese writes 。 and goes on (the joiner is translated)."""
    with i18n.language("zh"):
        text = gradient_text(rows)
    assert "式 (5)" in text and "不太可能消失" in text and "。 " not in text
    assert ". He et al" in relu_place_text_en() and "。 " not in relu_place_text_zh()


def _summary():
    return {"rows": [
        {"seed": s, "network": n, "preact": pre, "train_loss": loss, "train_accuracy": 0.9, "heldout_accuracy": 0.8}
        for s in (0, 1) for n, pre, loss in (("ResNet-56", False, 0.1), ("ResNet-56 (pre-act)", True, 0.2))
    ]}  # fmt: skip


def relu_place_text_en() -> str:
    return relu_place_text(_summary())


def relu_place_text_zh() -> str:
    with i18n.language("zh"):
        return relu_place_text(_summary())
