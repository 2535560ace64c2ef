"""AppTest for every page: renders on defaults without an exception, and the main interactions."""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.test_engine import cluster  # noqa: F401  (the fixture)

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


# what each page draws on its defaults: plotly charts (each with data), and what else it must show
DEFAULT_VIEW = {
    "learn": (7, lambda at: len(at.header) == 6),
    "build": (1, lambda at: at.metric[0].value == "269,722"),  # ResNet-20's parameters
    "train": (2, lambda at: at.button(key="train_start") is not None),  # the built-in run reopened: curves, heat-map
    "inside": (6, lambda at: "Feature maps at layer2.1" in [h.value for h in at.header]),
    "gradients": (3, lambda at: "first layer" in texts(at)),
    "explain": (2, lambda at: len(at.markdown) > 0 and "1. **" in texts(at)),  # the top-5 of both networks
    "experiments": (6, lambda at: len(at.tabs) == 3),
}


def chart_contents(at) -> list[list]:
    """What each plotly chart on the page draws, as the browser gets it: traces, shapes and annotations."""
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return [s["data"] + s["layout"].get("shapes", []) + s["layout"].get("annotations", []) for s in specs]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_defaults(page):
    at = open_page(page)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert len(at.title) == 1 and at.title[0].value
    charts, shows = DEFAULT_VIEW[page]
    contents = chart_contents(at)
    assert len(contents) >= charts, f"{page}: {len(contents)} charts"
    assert all(contents), f"{page}: an empty chart"
    assert shows(at), page


def test_learn_tells_the_story_with_measured_numbers():
    at = open_page("learn")
    headers = [h.value for h in at.header]
    assert len(headers) == 6 and headers[0].startswith("1. Deeper was worse")
    body = texts(at)
    assert "batch normalisation" in body and "vanishing gradients" in headers[4]
    # both views of what shortcuts do for gradients (issue 19): He et al. 2016 eq. 5 and Veit et al. beside 2015's
    assert "He et al. 2016 (eq. 5)" in body and "Veit et al. 2016" in body and "first/last ratio" in body
    assert "the shape of the paper's Fig. 1" not in body and "all four networks memorise them" in body
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


def test_explain_predicted_class_then_another_class_for_both_networks():
    """The predicted class's map comes with the prediction (one pass per network); another class gets its own."""
    at = open_page("explain")
    titles = lambda: [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")[:2]]  # noqa: E731
    predicted = titles()
    options = at.selectbox(key="explain_target").options
    other = options[2]  # the second most probable class of the picked network
    at.selectbox(key="explain_target").set_value(other).run()
    assert not at.exception, at.exception
    name = other.rsplit(" (", 1)[0]
    assert all(f": {name} (" in t for t in titles()), (titles(), other)
    assert f": {name} (" not in predicted[0]  # the picked network's first map was of its predicted class


def test_explain_bad_upload_is_a_clear_error_not_a_traceback():
    at = open_page("explain")
    at.radio(key="image_choice").set_value("Upload").run()
    at.file_uploader(key="image_upload").upload("notes.jpg", b"this is text, not a picture", "image/jpeg").run()
    assert not at.exception
    assert len(at.error) == 1
    assert "not an image" in at.error[0].value and "PNG" in at.error[0].value


def heatmap_shapes(spec: dict) -> list[tuple[int, ...]]:
    """Shapes of a chart's heat-maps (plotly sends arrays as typed buffers with a shape, or as lists)."""
    shapes = []
    for t in spec["data"]:
        if t["type"] == "heatmap":
            z = t["z"]
            shapes.append(tuple(int(n) for n in z["shape"].split(",")) if isinstance(z, dict) else np.shape(z))
    return shapes


def test_inside_layer_change():
    """Moving the layer slider redraws the grids with that layer's maps (the built-in ResNet-20 sees 24 x 24)."""
    at = open_page("inside")
    before = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "layer2.1" in before["layout"]["title"]["text"] and set(heatmap_shapes(before)) == {(12, 12)}
    at.select_slider(key="inside_layer").set_value("layer3.2").run()
    assert not at.exception
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    grids = [s for s in specs if s["layout"].get("title", {}).get("text", "").endswith("64 channels of 6x6")]
    assert len(grids) == 2  # the network and its twin, both at layer3.2: 64 channels of 6 x 6
    assert all("layer3.2" in g["layout"]["title"]["text"] for g in grids)
    assert all(heatmap_shapes(g) == [(6, 6)] * 16 for g in grids)  # the 16 most active channels


def test_inside_per_channel_statistics_on_demand():
    """Folded away, the per-channel statistics cost nothing; switched on, a network gets its chart and table."""
    at = open_page("inside")
    assert not at.dataframe and not [c for c in at.get("plotly_chart") if "chstats" in c.proto.id]
    toggles = [t for t in at.toggle if t.key.startswith("inside_stats_on_")]
    assert len(toggles) == 2  # one per network
    toggles[0].set_value(True).run()
    assert not at.exception
    assert len([c for c in at.get("plotly_chart") if "chstats" in c.proto.id]) == 1
    table = at.dataframe[0].value
    assert list(table.columns) == ["channel", "mean", "std", "max", "share active"] and len(table) == 32  # layer2.1


def test_inside_shows_fig7_layer_responses():
    at = open_page("inside")
    assert not at.exception
    assert any("Fig. 7" in h.value for h in at.header)
    body = texts(at)
    assert "Mean response std:" in body and "this app's own measure" in body


@pytest.mark.slow
def test_train_on_a_zip_says_what_was_skipped(cluster):  # noqa: F811
    """A user's zip with a decompression bomb among good pictures trains on a worker; the page says which
    file was left out and why."""
    from explorer import engine, engine_records
    from tests.test_engine import START_TIMEOUT, wait_until
    from tests.test_folder import bomb_png, good_entries

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in {**good_entries(), "pets/cat/huge.png": bomb_png(7000, 7000)}.items():
            zf.writestr(name, data)
    at = open_page("train")
    at.radio(key="train_preset").set_value("quick").run()
    at.selectbox(key="train_dataset").set_value("upload").run()
    at.file_uploader(key="train_zip").upload("pets.zip", buf.getvalue(), "application/zip").run()
    at.slider(key="train_steps_quick").set_value(1000).run()
    at.button(key="train_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    job = at.session_state["train_live"]
    wait_until(lambda: engine.status(job).step >= 1)  # the worker has read the zip
    at.run()
    notes = [w.value for w in at.warning if "skipped" in w.value]
    assert len(notes) == 1 and notes[0].startswith("1 of your files were skipped (1 too many pixels)"), notes
    assert "pets/cat/huge.png" in notes[0] and "7000 x 7000" in notes[0]
    at.button(key="train_live_stop").click().run()
    assert engine.wait(job, poll_s=0.2, timeout=START_TIMEOUT).state == engine_records.CANCELLED
