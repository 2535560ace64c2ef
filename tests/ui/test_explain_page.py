"""Explain in AppTest: every method reachable, the page whole below them, uploads checked before use."""

import io
import json
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer.data.upload_limits import IMAGE_MB, MB, WEIGHTS_MB
from explorer.ui import state

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def open_explain(params: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update(params or {})
    at.switch_page("explorer/ui/pages/explain.py")
    return at.run()


def test_compare_methods_draws_the_grid_and_keeps_the_rest_of_the_page():
    at = open_explain()
    methods = at.multiselect(key=state.CAM_METHODS)
    methods.set_value(list(methods.options)).run()  # every method the page offers
    at.button(key=state.CAM_COMPARE).click().run()
    assert not at.exception, at.exception
    grid = [c for c in at.get("plotly_chart") if "Occlusion" in c.proto.spec]
    assert len(grid) == 1, "no method grid"
    titles = [a["text"].replace("<br>", " ") for a in json.loads(grid[0].proto.spec)["layout"]["annotations"]]
    for label in ("Grad-CAM", "Guided Grad-CAM", "Integrated Gradients", "Saliency", "Occlusion"):
        assert label in titles, (label, titles)
    assert at.button(key=state.CAM_RANDOMISE) is not None  # the trust check below is still drawn


def _png(size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.radio(key=state.IMAGE_CHOICE).set_value("Upload").run()
    return at.file_uploader(key=state.UPLOAD).upload(name, data, "image/png").run()


@pytest.mark.parametrize("lang,words", [("en", "1 x 1 pixels"), ("zh", "1 x 1 像素")])
def test_a_one_pixel_image_is_not_explained(lang, words):
    at = _upload(open_explain({"lang": lang}), "dot.png", _png((1, 1)))
    assert not at.exception, at.exception
    assert len(at.error) == 1 and words in at.error[0].value, [e.value for e in at.error]
    assert not at.get("plotly_chart") and not any("1. **" in m.value for m in at.markdown)  # no answer, no map


@pytest.mark.parametrize("lang,words", [("en", "over the 20 MB limit"), ("zh", "超过 20 MB")])
def test_an_image_over_its_limit_gets_a_plain_message_in_the_users_language(lang, words):
    big = _png((64, 64)) + bytes(21 * MB)  # 21 MB: under the server's cap, over the image limit
    at = _upload(open_explain({"lang": lang}), "huge.png", big)
    assert not at.exception, at.exception
    assert len(at.error) == 1 and words in at.error[0].value, [e.value for e in at.error]
    assert not at.get("plotly_chart")


def test_the_uploaders_state_their_kinds_limit():
    at = open_explain({"network": "resnet18-imagenet"})
    assert f"up to {WEIGHTS_MB} MB" in at.sidebar.get("file_uploader")[0].proto.label
    at = open_explain()
    at.radio(key=state.IMAGE_CHOICE).set_value("Upload").run()
    assert f"up to {IMAGE_MB} MB" in at.file_uploader(key=state.UPLOAD).proto.label


def test_an_imagenet_network_is_in_the_link_even_without_its_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached weights, whatever this machine has
    at = open_explain({"image": "Photo sample"})
    at.selectbox(key=state.SOURCE).set_value("resnet50-imagenet").run()
    assert any("not available here" in i.value for i in at.info)
    assert at.query_params["network"] in ("resnet50-imagenet", ["resnet50-imagenet"])
    again = open_explain({"network": "ResNet-50, ImageNet weights (needs a download)"})  # an old link's label
    assert again.selectbox(key=state.SOURCE).value == "resnet50-imagenet"


def test_a_photo_on_a_shapes_network_offers_the_offline_way_out():
    at = open_explain({"image": "Photo sample"})
    text = " ".join(w.value for w in at.warning)
    assert "knows only the ten built-in shapes" in text and "A network file of your own" in text and ".pth" in text


def test_a_runs_checkpoints_zip_is_explained_with_its_twin():
    from tests.interpret.test_network_files import SHAPES_RUN, checkpoints_zip

    at = open_explain({"network": "file"})
    assert any("Upload a network file" in i.value for i in at.info)
    assert not at.get("plotly_chart")
    zipped = checkpoints_zip(SHAPES_RUN)
    at.sidebar.get("file_uploader")[0]  # the uploader is in the sidebar
    at.file_uploader(key=state.WEIGHTS_UPLOAD).upload("shapes.zip", zipped, "application/zip").run()
    assert not at.exception, at.exception
    assert at.selectbox(key=state.SOURCE).value.endswith("from shapes.zip (trained in this session)")
    titles = [s.value for s in at.subheader]
    assert len([t for t in titles if "from shapes.zip" in t]) == 2, titles  # the network and its twin
    assert len(at.get("plotly_chart")) == 2
