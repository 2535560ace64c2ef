"""End to end: every page in a real browser against a real server."""

import pytest

from tests.e2e.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.e2e


def test_build_page(server, page):
    page.goto(f"{server}/")
    wait_idle(page)
    no_exception(page)
    assert page.get_by_text("269,722").first.is_visible()
    page.get_by_test_id("stCheckbox").get_by_text("Residual connections").click()
    wait_idle(page)
    assert "residual=false" in page.url
    assert page.get_by_text("plain: no shortcuts").first.is_visible()
    shot(page, "build")
