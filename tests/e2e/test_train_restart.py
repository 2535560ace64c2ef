"""End to end: Start after Stop. The job goes on from its checkpoint, and every page watching the run follows it to
"Finished": the one that pressed Start, and a second session that opened the run by its link."""

import re

import pytest

from tests.support.browser import browser_page, no_exception, shot, wait_idle

pytestmark = pytest.mark.e2e
STEPS = 60  # the Quick pair: about 9 s of training on 2 idle cores, long enough that Stop lands mid-run


def _set_steps(page, steps: int) -> None:
    thumb = page.get_by_role("slider").last  # the form's only slider below the sidebar's: "Steps"
    thumb.focus()
    thumb.press("Home")
    for _ in range((steps - 20) // 10):
        thumb.press("ArrowRight")
    page.get_by_test_id("stSlider").get_by_text(str(steps), exact=True).last.wait_for()
    wait_idle(page)


def test_start_after_stop_is_followed_to_finished_in_both_sessions(server, browser):
    with browser_page(browser, height=1400, timeout_s=480) as a, browser_page(browser, height=1400, timeout_s=480) as b:
        a.goto(f"{server}/train?preset=quick")
        wait_idle(a)
        _set_steps(a, STEPS)
        a.get_by_role("button", name="Start training").click()
        a.get_by_text(re.compile(rf"step \d+ of {STEPS}")).first.wait_for()
        a.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()
        a.get_by_text("Stopped after").first.wait_for()
        assert "run=" in a.url

        b.goto(a.url)  # a student opens the teacher's link: the stopped run
        b.get_by_text("Stopped after").first.wait_for()

        a.get_by_role("button", name="Start training").click()  # Start again: the job goes on from its checkpoint
        try:
            a.get_by_text(re.compile(r"Finished \d+ steps")).first.wait_for()
            b.get_by_text(re.compile(r"Finished \d+ steps")).first.wait_for()  # followed without a reload
        finally:
            shot(a, "train-restart-starter")
            shot(b, "train-restart-link")
        for page in (a, b):
            assert page.get_by_text("Stopped after").count() == 0
            no_exception(page)
