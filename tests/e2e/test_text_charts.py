"""Charts read on a projector: drawn by plotly.js in Chromium at the width a 1024-pixel page gives them (540 px).

Every chart is drawn once, each in its own box, on one page: plotly.js is parsed once for the whole module."""

from __future__ import annotations

import pytest

from explorer.charts.lesion import lesion_figure
from explorer.charts.misconceptions import block_cost_figure, fit_figure, gradient_growth_figure
from explorer.experiments.lesion import BlockLesion, LesionResult
from explorer.experiments.misconceptions import BlockCost, Fit

NARROW, WIDE = 540, 1060  # a chart's width on a 1024-pixel page (sidebar open), and on a 1440-pixel one


def _resnet56(residual: bool) -> LesionResult:
    names = [f"layer{s}.{i}" for s in (1, 2, 3) for i in range(9)]
    blocks = [BlockLesion(n, 0.5, 0.1 * residual + 0.01 * k) for k, n in enumerate(names)]
    return LesionResult("ResNet-56" if residual else "Plain-56", residual, 0.8, 100, blocks)


def _figures() -> dict[str, tuple]:
    """Box id -> (figure, width in pixels)."""
    lesion = lesion_figure([_resnet56(False), _resnet56(True)])
    ratios = [{"depth": d, "residual": r, "ratio": v} for d, r, v in
              [(20, False, 9.1), (20, True, 0.385), (56, False, 970.0), (56, True, 0.273), (110, False, 6.1e6),
               (110, True, 0.599)]]  # fmt: skip
    high_left = [{"depth": d, "residual": r, "ratio": v} for d, r, v in
                 [(20, False, 6e6), (20, True, 0.4), (110, False, 9.0), (110, True, 0.6)]]  # fmt: skip
    fits = [Fit(n, n.startswith("ResNet"), 1.0, 0.1) for n in ("Plain-20", "ResNet-20", "Plain-56", "ResNet-56")]
    costs = [BlockCost("basic", 64, 73984), BlockCost("basic", 256, 1180672), BlockCost("bottleneck", 256, 70400)]
    return {
        "lesion-narrow": (lesion, NARROW),
        "lesion-wide": (lesion, WIDE),
        "myth1": (fit_figure(fits), NARROW),
        "myth2": (gradient_growth_figure(ratios), NARROW),
        "myth2-high-left": (gradient_growth_figure(high_left), NARROW),
        "myth3": (block_cost_figure(costs), NARROW),
    }


@pytest.fixture(scope="module")
def charts(browser):
    """One page with every chart drawn in its own box (``#<id>``)."""
    from plotly.offline import get_plotlyjs

    boxes = "".join(
        f'<div id="{name}" style="width:{width}px">'
        + fig.to_html(full_html=False, include_plotlyjs=False, default_width=f"{width}px")
        + "</div>"
        for name, (fig, width) in _figures().items()
    )
    context = browser.new_context(viewport={"width": WIDE + 40, "height": 900})
    page = context.new_page()
    page.set_content(f"<html><head><script>{get_plotlyjs()}</script></head><body>{boxes}</body></html>")
    page.wait_for_function("document.querySelectorAll('.main-svg').length >= 6")
    yield page
    context.close()


@pytest.mark.parametrize("box", ["lesion-narrow", "lesion-wide"])
def test_lesion_chart_writes_every_block_index(charts, box):
    """27 blocks of a ResNet-56: every index under its bar and every stage name once, at 540 px as at 1060."""
    ticks = charts.locator(f"#{box} .xaxislayer-above .xtick text").evaluate_all("els => els.map(e => e.textContent)")
    assert ticks.count("0") == 3 and [str(i) for i in range(9)] * 3 == [t for t in ticks if t.isdigit()]
    assert charts.locator(f"#{box} text", has_text="layer2").count() == 1


def _apart(a, b) -> bool:
    return a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"] or \
        a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"]  # fmt: skip


@pytest.mark.parametrize("box", ["myth2", "myth2-high-left"])
def test_ratio_chart_guide_never_meets_a_label(charts, box):
    """The reading guide of the line at 1 shares no pixel with any point's label (Learn's Myth 2, 540 px), also when
    the highest point is at the left, where the guide used to sit above the plot."""
    guide = charts.locator(f"#{box} text", has_text="far below 1").first.bounding_box()
    labels = [t.bounding_box() for t in charts.locator(f"#{box} .scatterlayer .textpoint text").all()]
    assert guide and len(labels) >= 4
    assert all(_apart(guide, b) for b in labels)


@pytest.mark.parametrize("box", ["myth1", "myth2", "myth3"])
def test_myth_chart_titles_are_whole_at_a_projectors_width(charts, box):
    """Learn's myth charts at 540 px, the width a 1024-pixel page gives them: no title runs off the right edge."""
    left = charts.locator(f"#{box}").bounding_box()["x"]
    title = charts.locator(f"#{box} .gtitle").first.bounding_box()
    assert title["x"] + title["width"] <= left + NARROW
