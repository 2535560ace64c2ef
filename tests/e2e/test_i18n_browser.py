"""The Learn page in Chinese in a real browser: a teacher's link (?lang=zh) opens in Chinese, with CJK glyphs."""

import re

import pytest

from tests.support.browser import browser_page, no_exception, open_step, shot, wait_idle

pytestmark = pytest.mark.e2e
HAN = re.compile(r"[\u4e00-\u9fff]")


def test_learn_opens_in_chinese_from_the_link(server, browser):
    with browser_page(browser, height=2400, timeout_s=120) as page:
        page.goto(f"{server}/learn?lang=zh")
        wait_idle(page)
        no_exception(page)
        title = page.locator("h1").first.inner_text()
        assert HAN.search(title), title
        assert "lang=zh" in page.url
        assert page.get_by_test_id("stSidebarNav").get_by_text("学习").count() >= 1  # the menu, too
        open_step(page, 2)  # 3. basic and bottleneck blocks
        page.locator('[data-testid="stPlotlyChart"]').filter(has_text="瓶颈块").first.wait_for()
        path = shot(page, "learn-zh")
        assert path.stat().st_size > 50_000
