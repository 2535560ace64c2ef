"""The app's shell in a real browser: the tab's icon is served by the app, a Chinese browser opens in Chinese,
and the Gradients page's axis labels do not run into each other."""

import re

import pytest

from tests.support.browser import no_exception, wait_idle

pytestmark = pytest.mark.e2e
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def page_in(browser):
    """A fresh page whose browser speaks ``locale`` (navigator.language)."""
    contexts = []

    def make(locale: str):
        context = browser.new_context(viewport={"width": 1440, "height": 2400}, locale=locale)
        contexts.append(context)
        pg = context.new_page()
        pg.set_default_timeout(120_000)
        return pg

    yield make
    for context in contexts:
        context.close()


def test_a_chinese_browser_opens_in_chinese_with_the_shipped_icon(server, page_in):
    page = page_in("zh-CN")
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{server}/")
    wait_idle(page)
    no_exception(page)
    assert HAN.search(page.locator("h1").first.inner_text())
    icon = page.locator("link[rel~='icon']").first.get_attribute("href")
    assert icon and (icon.startswith(server) or "://" not in icon), icon  # served by the app itself
    assert not [u for u in requests if "fonts.gstatic" in u or "googleapis" in u], requests
    english = page_in("en-US")
    english.goto(f"{server}/")
    wait_idle(english)
    assert not HAN.search(english.locator("h1").first.inner_text())


def test_gradients_axis_labels_do_not_touch(server, page_in):
    page = page_in("en-US")
    page.goto(f"{server}/gradients")
    wait_idle(page)
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.locator("g.ytick text").first.wait_for()
    boxes = sorted(
        (b["y"], b["y"] + b["height"]) for b in (t.bounding_box() for t in chart.locator("g.ytick text").all()) if b
    )
    assert len(boxes) >= 2
    gaps = [lower_top - upper_bottom for (_t, upper_bottom), (lower_top, _b) in zip(boxes[:-1], boxes[1:], strict=True)]
    assert min(gaps) >= 2, gaps  # at least two pixels between neighbouring labels
