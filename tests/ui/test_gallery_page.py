"""Explain's gallery in AppTest: many files in one upload, the skipped ones listed, thumbnails first; the maps as
one job on a real engine, a picture opened in the detailed view, the downloads."""

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer.ui import gallery, state
from tests.support.crafted import corpus, photo, zip_of

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def gallery_page(files: list[tuple[str, bytes]], lang: str = "en") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["lang"] = lang
    at.switch_page("explorer/ui/pages/explain.py")
    at.run()
    at.radio(key=state.EXPLAIN_MODE).set_value("gallery").run()
    uploader = at.file_uploader(key=state.GALLERY_FILES)
    for name, data in files:
        uploader.upload(name, data, "application/octet-stream")
    return at.run()


def files() -> list[tuple[str, bytes]]:
    data = corpus()
    pets = zip_of({"cat/1.png": photo(3), "dog/1.png": photo(4), "../up.png": photo(5)})
    return [
        ("a.png", photo(1)),
        ("b.gif", data["animated.gif"][0]),
        ("cut.png", data["truncated.png"][0]),
        ("pets.zip", zip_of({"cat/1.png": photo(3), "dog/1.png": photo(4)})),
        ("climb.zip", pets),
    ]


@pytest.mark.parametrize("lang,skipped", [("en", "2 files skipped"), ("zh", "跳过了 2 个文件")])
def test_thumbnails_first_and_the_skipped_files_with_reasons(lang, skipped):
    at = gallery_page(files(), lang)
    assert not at.exception, at.exception
    assert len(at.get("image")) == 4  # a.png, b.gif, pets.zip/cat/1.png, pets.zip/dog/1.png
    labels = [e.label for e in at.expander]
    assert skipped in labels, labels
    listed = "\n".join(m.value for m in at.markdown)
    assert "**cut.png**" in listed and "**climb.zip**" in listed
    assert at.button(key=state.GALLERY_START) is not None


def test_score_cam_s_cost_is_stated_before_the_gallery_runs_it():
    """One forward pass per channel of the layer per picture, plus one each: said as soon as Score-CAM is picked."""
    at = gallery_page([("a.png", photo(1)), ("b.png", photo(2))])
    assert not any("forward passes" in c.value for c in at.caption)
    at.selectbox(key=state.GALLERY_METHOD).set_value("scorecam").run()
    said = [c.value for c in at.caption if "forward passes" in c.value]
    assert len(said) == 1 and not at.exception, (said, at.exception)
    passes = int(re.search(r"([\d,]+) forward passes", said[0]).group(1).replace(",", ""))
    assert passes % 2 == 0 and passes // 2 - 1 in (16, 32, 64, 128, 256, 512, 1024, 2048), passes  # 2 x (C + 1)


@pytest.mark.slow
def test_the_gallery_job_fills_in_opens_a_picture_and_downloads(cluster):
    from explorer.engine import jobs as engine

    at = gallery_page(files())
    at.button(key=state.GALLERY_START).click().run()
    assert not at.exception, at.exception
    job = at.session_state[gallery.JOB]
    assert engine.wait(job, poll_s=0.2, timeout=120).state == engine.DONE
    at.run()
    at.run()
    assert not at.exception, at.exception
    shown = " ".join(m.value for m in at.markdown)
    assert shown.count("%") >= 4  # top-1 class and confidence per picture
    assert at.get("download_button"), "no gallery download"
    results = at.session_state[gallery.RESULTS]
    assert len(results) == 1 and len(next(iter(results.values()))) == 4

    at.selectbox(key=state.GALLERY_SORT).set_value("high").run()
    assert not at.exception, at.exception
    at.selectbox(key=state.GALLERY_METHOD).set_value("saliency").run()
    assert not at.exception, at.exception
    assert at.session_state[gallery.VIEW][2] == "saliency" and at.session_state[gallery.JOB] != job  # its own job
    engine.wait(at.session_state[gallery.JOB], poll_s=0.2, timeout=120)
    started = engine.job_count("gallery")
    at.selectbox(key=state.GALLERY_METHOD).set_value("gradcam").run()
    assert at.get("download_button"), "the Grad-CAM view was not kept"
    assert engine.job_count("gallery") == started  # kept, not recomputed

    at.button(key=f"{state.GALLERY_OPEN}_2").click().run()  # pets.zip/cat/1.png in the detailed view
    assert not at.exception, at.exception
    assert at.button(key=state.GALLERY_BACK) is not None
    keys = {b.proto.id for b in at.get("download_button")}
    assert at.get("plotly_chart") and len(keys) >= 2  # the overlay PNG and the map .npy


def test_the_bundle_the_gallery_offers(tmp_path):
    """The download's bytes: what interpret.bundle writes for the gallery's results (AppTest cannot click it)."""
    from explorer.charts.colors import overlay_rgb
    from explorer.data.gather import gather
    from explorer.interpret.batch import explain_pictures
    from explorer.interpret.bundle import bundle_entries, bundle_zip
    from explorer.interpret.model_cards import load_model, untrained_card
    from explorer.models.config import ResNetConfig

    found = gather(files())
    card = untrained_card(ResNetConfig("cifar", 8, width=8))
    results = explain_pictures(card, load_model(card), found.pictures)
    zf = zipfile.ZipFile(
        io.BytesIO(bundle_zip(bundle_entries(results, card.classes, card.label, overlay_rgb, found.skipped)))
    )
    assert sorted(n for n in zf.namelist() if n.startswith("maps/")) == [
        "maps/a.npy", "maps/b.npy", "maps/pets.zip__cat__1.npy", "maps/pets.zip__dog__1.npy"
    ]  # fmt: skip
    assert np.load(io.BytesIO(zf.read("maps/a.npy"))).shape == (32, 32)
