"""Explain's gallery in a real browser: ten images (one broken) in one upload, the broken one listed as skipped,
the maps filled in by the engine, one picture opened, the gallery's .zip downloaded and read; screenshots of the
gallery at 1,024 pixels in English and Chinese (``SCREENSHOT_DIR``, default artifacts/screenshots)."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from explorer.data.images import sample_images
from tests.support.browser import no_exception, shot, wait_idle
from tests.support.crafted import corpus, photo

pytestmark = pytest.mark.e2e

WORDS = {
    "en": ("Many images: a gallery", "1 file skipped", "Explain 9 images with Grad-CAM", "Download the gallery (.zip)"),
    "zh": ("多张图片：图库", "跳过了 1 个文件", "用 Grad-CAM 解释 9 张图片", "下载图库（.zip）"),
}


def ten_files(folder) -> list[str]:
    """The built-in sample photos, seeded noise up to nine, and a truncated PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [str(p) for p in sorted(sample_images().values())][:9]
    for i in range(9 - len(paths)):
        (folder / f"photo{i}.png").write_bytes(photo(i, (64 + 8 * i, 48)))
        paths.append(str(folder / f"photo{i}.png"))
    (folder / "broken.png").write_bytes(corpus()["truncated.png"][0])
    return [*paths, str(folder / "broken.png")]


def gallery(page, server: str, lang: str, files: list[str]) -> None:
    """Open the gallery, upload the files in one go, start the job and wait for the download button."""
    mode, skipped, start, download = WORDS[lang]
    page.goto(f"{server}/explain?lang={lang}")
    wait_idle(page)
    page.get_by_test_id("stRadio").get_by_text(mode, exact=True).click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(files)
    page.get_by_text(skipped).first.wait_for(timeout=60_000)
    wait_idle(page)
    page.get_by_role("button", name=start).click()
    page.get_by_role("button", name=download).wait_for(timeout=240_000)
    wait_idle(page)
    no_exception(page)


def test_ten_images_one_broken_open_one_and_download_the_zip(server, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1024, "height": 1700}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        files = ten_files(tmp_path / "in")
        gallery(page, server, "en", files)
        assert page.get_by_text("broken.png").count() >= 1  # listed as skipped, with its reason
        assert page.get_by_text("truncated or corrupt").count() >= 1
        shot(page, "explain-gallery")
        with page.expect_download() as got:
            page.get_by_role("button", name="Download the gallery (.zip)").click()
        zf = zipfile.ZipFile(got.value.path())
        names = set(zf.namelist())
        stems = sorted(Path(p).stem for p in files[:9])
        assert {f"overlays/{s}.png" for s in stems} <= names and {f"maps/{s}.npy" for s in stems} <= names
        rows = list(csv.DictReader(io.StringIO(zf.read("predictions.csv").decode())))
        assert sorted(r["file"] for r in rows) == sorted(Path(p).name for p in files[:9])
        assert all(r["top1_class"] and float(r["top1_probability"]) > 0 for r in rows)
        assert [r["file"] for r in csv.DictReader(io.StringIO(zf.read("skipped.csv").decode()))] == ["broken.png"]

        page.get_by_test_id("stButton").get_by_role(
            "button", name="Open", exact=True
        ).first.click()  # not an image's own tools
        page.get_by_role("button", name="Back to the gallery").wait_for()
        page.get_by_role("button", name="Overlay (PNG)").first.wait_for()
        wait_idle(page)
        no_exception(page)
        assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1  # today's detailed view
    finally:
        context.close()


def test_the_gallery_in_chinese(server, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1024, "height": 1700})
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        gallery(page, server, "zh", ten_files(tmp_path / "in"))
        shot(page, "explain-gallery-zh")
    finally:
        context.close()
