"""The Learn page in Chinese in a real browser: a teacher's link (?lang=zh) opens in Chinese, with CJK glyphs."""

import re

import pytest

from tests.e2e.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.e2e
HAN = re.compile(r"[\u4e00-\u9fff]")


def test_learn_opens_in_chinese_from_the_link(server, browser):
    context = browser.new_context(viewport={"width": 1440, "height": 2400}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        page.goto(f"{server}/learn?lang=zh")
        wait_idle(page)
        no_exception(page)
        title = page.locator("h1").first.inner_text()
        assert HAN.search(title), title
        assert "lang=zh" in page.url
        page.locator('[data-testid="stPlotlyChart"]').filter(has_text="瓶颈块").first.wait_for()
        path = shot(page, "learn-zh")
        assert path.stat().st_size > 50_000
    finally:
        context.close()
