"""End to end: every page in a real browser against a real server; upload, Grad-CAM, live training."""

import re
import time

import numpy as np
import pytest
from PIL import Image

from tests.support.browser import browser_page, no_exception, open_step, shot, upload_to_explain, wait_idle

pytestmark = pytest.mark.e2e

PAGES = {
    "": "Why residual networks work",  # Learn, the default page, lives at the root
    "build": "Build a ResNet",
    "train": "Train plain and residual networks side by side",
    "inside": "Look inside",
    "gradients": "How gradients flow",
    "explain": "Explain a prediction",
    "experiments": "Experiments",
    "landscape": "Loss landscapes",
    "saliency": "Can you trust the map?",
}
CHART = '[data-testid="stPlotlyChart"]'


@pytest.fixture
def tall_page(browser):
    with browser_page(browser, height=2400, timeout_s=120) as pg:
        yield pg


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_opens_and_draws(server, tall_page, path):
    tall_page.goto(f"{server}/{path}")
    wait_idle(tall_page)
    no_exception(tall_page)
    assert tall_page.locator("h1").first.inner_text().startswith(PAGES[path])
    if path == "":  # Learn opens with its steps closed: the first one's figures appear when it is opened
        assert tall_page.locator(CHART).count() == 0
        open_step(tall_page, 0)
        no_exception(tall_page)
    if path != "train":  # every other page draws at least one chart with no upload and no download
        assert tall_page.locator(CHART).count() >= 1
    shot(tall_page, path or "learn")


def test_build_toggle_updates_view_and_url(server, page):
    page.goto(f"{server}/build")
    wait_idle(page)
    assert page.get_by_text("269,722").first.is_visible()
    page.get_by_test_id("stCheckbox").get_by_text("Residual connections").click()
    page.get_by_text("plain: no shortcuts").first.wait_for()
    wait_idle(page)
    assert "residual=false" in page.url
    no_exception(page)


def _photo_png(tmp_path) -> str:
    rng = np.random.default_rng(1)
    img = np.zeros((120, 160, 3), np.uint8) + 230
    img[30:90, 50:110] = rng.integers(0, 120, (60, 60, 3))  # a dark square on a light background
    path = tmp_path / "my photo.png"
    Image.fromarray(img).save(path)
    return str(path)


def test_upload_shows_grad_cam_overlay(server, tall_page, tmp_path):
    page = tall_page
    upload_to_explain(page, server, _photo_png(tmp_path))
    no_exception(page)
    overlays = page.locator(CHART).filter(has_text="at layer3.2")
    overlays.nth(1).wait_for()  # the network and its plain twin
    assert overlays.count() == 2
    shot(page, "explain-upload")


def test_bad_upload_gives_a_clear_message(server, page, tmp_path):
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes(b"GIF89a this is not really an image")
    page.goto(f"{server}/explain")
    wait_idle(page)
    page.get_by_test_id("stRadio").get_by_text("Upload", exact=True).click()
    wait_idle(page)
    page.locator('input[type="file"]').first.set_input_files(str(bad))
    page.get_by_text("Could not use holiday.jpg").wait_for()
    no_exception(page)


def _step(page) -> int:
    text = page.get_by_text(re.compile(r"step \d+ of \d+")).first.inner_text()
    return int(re.search(r"step (\d+) of", text).group(1))


def test_training_curve_grows_and_stops(server, tall_page):
    page = tall_page
    page.goto(f"{server}/train")
    wait_idle(page)
    page.get_by_text("Quick: Plain-20 against ResNet-20", exact=False).click()
    wait_idle(page)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"step \d+ of \d+")).first.wait_for(timeout=120_000)
    first = _step(page)
    chart = page.locator(CHART).filter(has_text="Training loss")
    chart.first.wait_for()
    deadline = time.time() + 90
    later = first
    while later <= first and time.time() < deadline:  # the fragment redraws as the worker trains
        time.sleep(1)
        later = _step(page)
    assert later > first
    shot(page, "train-live")
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()
    page.get_by_text("Stopped after").first.wait_for(timeout=60_000)
    no_exception(page)
