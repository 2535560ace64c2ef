"""Charts read on a projector: drawn by plotly.js in Chromium at the width a 1024-pixel page gives them."""

from __future__ import annotations

import pytest

from explorer.charts import lesion
from explorer.charts.misconceptions import gradient_growth_figure
from explorer.experiments.lesion import BlockLesion, LesionResult


def _resnet56(residual: bool) -> LesionResult:
    names = [f"layer{s}.{i}" for s in (1, 2, 3) for i in range(9)]
    blocks = [BlockLesion(n, 0.5, 0.1 * residual + 0.01 * k) for k, n in enumerate(names)]
    return LesionResult("ResNet-56" if residual else "Plain-56", residual, 0.8, 100, blocks)


def _draw(page, fig, width: int) -> None:
    page.set_viewport_size({"width": width + 40, "height": 900})
    page.set_content(fig.to_html(include_plotlyjs=True, full_html=True, default_width=f"{width}px"))
    page.wait_for_selector(".main-svg")


@pytest.mark.parametrize("width", [540, 1060])
def test_lesion_chart_writes_every_block_index(page, width):
    """27 blocks of a ResNet-56: every index under its bar and every stage name once, at 540 px as at 1060."""
    _draw(page, lesion.lesion_figure([_resnet56(False), _resnet56(True)]), width)
    ticks = page.locator(".xaxislayer-above .xtick text").evaluate_all("els => els.map(e => e.textContent)")
    assert ticks.count("0") == 3 and [str(i) for i in range(9)] * 3 == [t for t in ticks if t.isdigit()]
    assert page.locator("text", has_text="layer2").count() == 1


def test_ratio_chart_guide_never_meets_a_label(page):
    """The reading guide of the line at 1 shares no pixel with any point's label (Learn's Myth 2, 540 px)."""
    rows = [{"depth": d, "residual": r, "ratio": v} for d, r, v in
            [(20, False, 9.1), (20, True, 0.385), (56, False, 970.0), (56, True, 0.273), (110, False, 6.1e6),
             (110, True, 0.599)]]  # fmt: skip
    _draw(page, gradient_growth_figure(rows), 540)
    guide = page.locator("text", has_text="far below 1").first.bounding_box()
    labels = [t.bounding_box() for t in page.locator(".scatterlayer .textpoint text").all()]
    assert guide and len(labels) == 6

    def apart(a, b):
        return a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"] or \
            a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"]  # fmt: skip

    assert all(apart(guide, b) for b in labels)
    title = page.locator(".gtitle").first.bounding_box()
    assert title["x"] + title["width"] <= 540  # the title is not cut at the chart's right edge


def _myth_figures():
    from explorer.charts.misconceptions import block_cost_figure, fit_figure
    from explorer.misconceptions import BlockCost, Fit

    fits = [Fit(n, n.startswith("ResNet"), 1.0, 0.1) for n in ("Plain-20", "ResNet-20", "Plain-56", "ResNet-56")]
    ratios = [{"depth": d, "residual": r, "ratio": v} for d, r, v in ((20, False, 9.1), (110, True, 0.599))]
    costs = [BlockCost("basic", 64, 73984), BlockCost("basic", 256, 1180672), BlockCost("bottleneck", 256, 70400)]
    return [fit_figure(fits), gradient_growth_figure(ratios), block_cost_figure(costs)]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_myth_chart_titles_are_whole_at_a_projectors_width(page, which):
    """Learn's myth charts at 540 px, the width a 1024-pixel page gives them: no title runs off the right edge."""
    _draw(page, _myth_figures()[which], 540)
    title = page.locator(".gtitle").first.bounding_box()
    assert title["x"] + title["width"] <= 540
