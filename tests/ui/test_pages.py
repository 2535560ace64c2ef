"""AppTest for every page: renders on defaults without an exception, and the main interactions."""

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGES = ["learn", "build", "train", "inside", "gradients", "explain", "experiments"]


def open_page(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page(f"explorer/ui/pages/{name}.py")
    return at.run()


def texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for kind in (at.error, at.warning, at.info, at.success) for e in kind]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_defaults(page):
    at = open_page(page)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert len(at.title) == 1


def test_learn_tells_the_story_with_measured_numbers():
    at = open_page("learn")
    headers = [h.value for h in at.header]
    assert len(headers) == 6 and headers[0].startswith("1. Deeper was worse")
    body = texts(at)
    assert "batch normalisation" in body and "vanishing gradients' is not the story" in headers[4]
    # the corrections of the scientific review (issue 8): what the data show, hedged as the paper hedges
    assert "Yang et al. 2019" in body and "conjecture" in body and "healthy" not in body
    assert "VGG" in body and "Srivastava et al. 2015" in body and "Goyal et al. 2017" in body
    ratios = [d for d in at.dataframe if "plain: first / last" in d.value.columns]
    assert ratios and float(ratios[0].value["plain: first / last"][0]) > 100  # Plain-56 explodes towards the input
    family = at.dataframe[-1].value
    assert list(family["parameters"][:5]) == ["270K", "464K", "659K", "853K", "1.7M"]
    assert "best of 5" in str(family["paper: CIFAR-10 test error"][4])


def test_build_reacts_to_depth_family_and_residual():
    at = open_page("build")
    assert at.metric[0].value == "269,722"
    at.select_slider(key="net_depth").set_value(56).run()
    assert at.metric[0].value == "853,018"
    at.toggle(key="net_residual").set_value(False).run()
    assert at.metric[0].value == "853,018"  # option A: the plain twin has the same parameters
    assert at.query_params["residual"] == "false" and at.query_params["depth"] == "56"
    at.toggle(key="net_residual").set_value(True).run()
    at.radio(key="net_family").set_value("imagenet").run()  # starts from torchvision's ResNet-50
    assert not at.exception
    assert at.select_slider(key="net_depth").value == 50 and at.radio(key="net_shortcut").value == "B"
    assert at.metric[0].value == "25,557,032"


def test_url_opens_the_same_view():
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update({"family": "cifar", "depth": "32", "residual": "false"})
    at.switch_page("explorer/ui/pages/build.py")
    at.run()
    assert at.select_slider(key="net_depth").value == 32
    assert at.toggle(key="net_residual").value is False
    assert at.metric[0].value == "464,154"


def test_train_start_shows_progress_and_stop_ends_it():
    at = open_page("train")
    at.radio(key="train_preset").set_value("quick").run()
    at.slider(key="train_steps_quick").set_value(1000).run()
    at.button(key="train_start").click().run()
    assert not at.exception
    job, live = at.session_state["train_live"]
    deadline = time.time() + 120
    while live.history.step < 2 and time.time() < deadline:
        time.sleep(0.2)
    at.run()
    assert live.history.step >= 2
    at.button(key="train_live_stop").click().run()
    while job.active and time.time() < deadline:
        time.sleep(0.1)
    at.run()
    assert job.status == "cancelled"
    assert any("Stopped after" in w.value for w in at.warning)
    assert live.history.step < 1000
    assert any(label.startswith("ResNet-20 (Quick") for label in at.session_state["trained_models"])


def _png(size=(40, 30), mode="RGB") -> bytes:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).convert(mode)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, format="JPEG")
    return buf.getvalue()


@pytest.mark.parametrize("name,data,mime", [("photo.png", _png(), "image/png"), ("photo.jpg", _jpeg(), "image/jpeg")])
def test_explain_upload_gives_grad_cam(name, data, mime):
    at = open_page("explain")
    at.radio(key="image_choice").set_value("Upload").run()
    at.file_uploader(key="image_upload").upload(name, data, mime).run()
    assert not at.exception
    assert not at.error
    charts = at.get("plotly_chart")
    assert len(charts) == 2, [type(e).__name__ for e in at.main]  # the overlay for the network and its twin
    assert all("Grad-CAM" in c.proto.spec or "evidence" in c.proto.spec for c in charts)


def test_explain_bad_upload_is_a_clear_error_not_a_traceback():
    at = open_page("explain")
    at.radio(key="image_choice").set_value("Upload").run()
    at.file_uploader(key="image_upload").upload("notes.jpg", b"this is text, not a picture", "image/jpeg").run()
    assert not at.exception
    assert len(at.error) == 1
    assert "not an image" in at.error[0].value and "PNG" in at.error[0].value


def test_inside_layer_change():
    at = open_page("inside")
    at.select_slider(key="inside_layer").set_value("layer3.2").run()
    assert not at.exception
    assert any("layer3.2" in h.value for h in at.header)


@pytest.mark.slow
def test_explain_randomisation_check_shows_guided_gradcam_beside_gradcam():
    at = open_page("explain")
    at.button(key="explain_randomise").click().run()
    assert not at.exception
    table = [d.value for d in at.dataframe if "method" in d.value.columns][0]
    assert {"Grad-CAM", "Guided Grad-CAM", "Saliency"} <= set(table["method"])
    assert len(set(table["network"])) == 2  # the network and its twin, on one chart
    assert "necessary, not sufficient" in texts(at)
    chart = [c for c in at.get("plotly_chart") if "Sanity check" in c.proto.spec][0]
    assert "Guided Grad-CAM (absolute)" in chart.proto.spec


def test_inside_shows_fig7_layer_responses():
    at = open_page("inside")
    assert not at.exception
    assert any("Fig. 7" in h.value for h in at.header)
    body = texts(at)
    assert "Mean response std:" in body and "this app's own measure" in body
