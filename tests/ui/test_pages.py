"""AppTest for every page: renders on defaults without an exception, and the main interactions."""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer.ui import state
from tests.support.apptest import texts
from tests.support.steps import open_steps

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGES = ["learn", "build", "train", "inside", "gradients", "explain", "experiments"]


def open_page(name: str, **params: str) -> AppTest:
    """A fresh session on one page, opened by a link with these query parameters."""
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update(params)
    at.switch_page(f"explorer/ui/pages/{name}.py")
    return at.run()


# what each page draws on its defaults: plotly charts (each with data), and what else it must show
DEFAULT_VIEW = {
    "learn": (0, lambda at: len(at.expander) == 7),  # the six steps and the myths, closed: no chart until opened
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


def test_learn_opens_with_its_steps_closed_and_draws_a_step_s_figures_when_it_opens():
    at = open_page("learn")
    assert not at.get("plotly_chart") and not at.dataframe  # the first page a class opens draws no chart
    assert "in six short steps" in texts(at)  # the text of every step is there, folded away
    open_steps(at, (state.LEARN_STEPS[2],))  # 3. Basic and bottleneck blocks
    assert not at.exception
    assert [c.proto.id.endswith("learn_bottleneck") for c in at.get("plotly_chart")] == [True]
    contents = chart_contents(open_steps(at))
    assert len(contents) >= 10 and all(contents)


def test_learn_tells_the_story_with_measured_numbers():
    at = open_steps(open_page("learn"))
    headers = [e.label.strip("*") for e in at.expander]
    assert len(headers) == 7 and headers[0].startswith("1. Deeper was worse")
    assert headers[6] == "Common misconceptions"  # in English too
    assert not at.columns  # block diagrams full width, one under the other: side by side they squeeze at 1024 px
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
    family = next(d.value for d in at.dataframe if "paper: test error" in d.value.columns)
    assert list(family["parameters (paper)"]) == [
        "270K (270K)",
        "464K (460K)",
        "659K (660K)",
        "853K (850K)",
        "1.7M (1.7M)",
    ]
    assert list(family["paper: test error"]) == ["8.75%", "7.51%", "7.17%", "6.97%", "6.43% (best of 5)"]
    assert "mean is 6.61% ± 0.16" in body  # the rest of the cell that was cut, in the caption
    assert "**CIFAR-10 networks** (32x32 images)" in body
    imagenet = next(d.value for d in at.dataframe if "paper: FLOPs" in d.value.columns)
    assert "paper: test error" not in imagenet.columns and len(imagenet) == 5  # no empty columns


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
    assert "Depths offered: 18, 34, 50, 101, 152" in texts(at)  # the slider shows only its two ends


def test_build_depth_slider_says_which_depths_it_offers():
    at = open_page("build")
    assert "Depths offered: 8, 14, 20, 32, 44, 56, 110" in texts(at)


def _scale_chart(at) -> dict:
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return next(c for c in charts if "gradient ratio against s" in c["layout"]["title"]["text"])


def test_build_shortcut_scale_measures_the_gradient_ratio_and_rides_in_the_link():
    at = open_page("build", depth="56", scale="0.5")
    assert not at.exception, at.exception
    assert at.slider(key="net_shortcut_scale").value == 0.5 and at.query_params["scale"] == "0.5"
    chart = _scale_chart(at)
    curve, now = chart["data"]
    assert now["x"] == [0.5] and len(curve["x"]) == 5
    ratio = dict(zip(curve["x"], curve["y"], strict=True))
    assert ratio[0.0] > 100 * ratio[1.0]  # s = 0 is Plain-56: its gradients grow towards the input
    assert ratio[0.0] > now["y"][0] > ratio[1.0]
    at.slider(key="net_shortcut_scale").set_value(0.1).run()
    assert _scale_chart(at)["data"][1]["x"] == [0.1] and at.query_params["scale"] == "0.1"
    assert "At **s = 0.10**" in texts(at)


def test_build_in_plain_mode_says_what_a_plain_network_is():
    at = open_page("build", residual="false", scale="0.3")
    body = texts(at)
    assert "no shortcut to scale" in body and "plain network has no arcs" in body
    assert "arcs are shortcuts" not in body and "without the additions" not in body
    assert "scale" not in at.query_params  # the plain twin has no s


def test_build_on_imagenet_says_the_scale_is_measured_for_cifar_only():
    at = open_page("build", family="imagenet", depth="18")
    assert not at.exception, at.exception
    assert "CIFAR networks only" in texts(at)


def test_a_link_to_an_imagenet_net_builds_it_as_torchvision_does():
    """family=imagenet in a link: option B (1x1 projection) and width 64, as torchvision builds ResNets, unless the
    link names them; the sidebar's CIFAR defaults (option A, width 16) are not carried over."""
    at = open_page("build", family="imagenet", depth="18")
    assert at.radio(key="net_shortcut").value == "B" and at.select_slider(key="net_width").value == 64
    assert at.select_slider(key="net_depth").value == 18
    at = open_page("build", family="imagenet", shortcut="A")
    assert at.radio(key="net_shortcut").value == "A" and at.select_slider(key="net_depth").value == 50


def test_url_opens_the_same_view():
    at = open_page("build", family="cifar", depth="32", residual="false")
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

    def titles() -> list[str]:  # a narrow column's title breaks in two lines
        charts = at.get("plotly_chart")[:2]
        return [json.loads(c.proto.spec)["layout"]["title"]["text"].replace("<br>", " ") for c in charts]

    predicted = titles()
    options = at.selectbox(key="explain_target").options  # as shown: "square (12%)"
    other = options[2]  # the second most probable class of the picked network
    name = other.rsplit(" (", 1)[0]  # the option's value is the class's id, its name; the probability is shown
    at.selectbox(key="explain_target").set_value(name).run()
    assert not at.exception, at.exception
    assert at.query_params["target"] in (name, [name])  # the link carries the class, not its probability
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


def test_inside_shows_the_shape_sample_it_explains():
    """Moving "Sample" shows which shape was picked, with its name."""
    at = open_page("inside")
    at.slider(key="image_shape_index").set_value(7).run()
    images = at.get("image")
    assert len(images) == 1
    from explorer.data.shapes import SHAPE_CLASSES
    from explorer.ui.caches.results import shapes_samples

    shape = SHAPE_CLASSES[int(shapes_samples(24).labels[7])]
    assert images[0].captions == [f"shapes sample 7: {shape}"]


@pytest.mark.parametrize(
    ("kind", "hint"),
    [("Camera", "Allow the camera and take a photo"), ("Upload", "Choose a picture to upload (")],
)
def test_inside_image_hint_says_what_each_mode_needs(kind, hint):
    """Before a picture arrives, the hint fits the mode: the camera asks for a photo, not for a file."""
    at = open_page("inside")
    at.radio(key="image_choice").set_value(kind).run()
    infos = [i.value for i in at.info]
    assert any(hint in i for i in infos), infos
    assert not any("Choose a file to upload" in i for i in infos)


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
    # the full-batch run: 0.920 against 0.930 at depth 20 is within the data's margin; only depth 56 differs
    note = next(m.value for m in at.markdown if "Mean response std: Plain-20 0.930" in m.value)
    assert "At depth 20 the twins' responses differ by 0.010 (0.920 against 0.930), within the margin" in note
    assert "At depth 56 the residual network's responses are the smaller (0.933 against 1.058" in note
    assert note.count("as in the paper") == 1 and "twice the standard error" in note


def test_inside_layer_response_note_reads_as_chinese():
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["lang"] = "zh"
    at.switch_page("explorer/ui/pages/inside.py")
    at.run()
    note = next(m.value for m in at.markdown if "平均响应标准差：Plain-20 0.930" in m.value)
    assert "在深度 20，两个对照网络的响应相差 0.010" in note and "误差范围之内" in note
    assert "。 " not in note  # Chinese sentences follow each other without a space


@pytest.mark.slow
def test_train_on_a_zip_says_what_was_skipped(cluster):  # noqa: F811
    """A user's zip with a decompression bomb among good pictures trains on a worker; the page says which
    file was left out and why."""
    from explorer.engine import jobs as engine
    from explorer.engine import records as engine_records
    from tests.data.test_folder import bomb_png, good_entries
    from tests.engine.test_engine import START_TIMEOUT, wait_until

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
    assert len(notes) == 1 and notes[0].startswith("1 of your files were skipped (too many pixels: 1)"), notes
    assert "pets/cat/huge.png" in notes[0] and "7000 x 7000" in notes[0]
    at.button(key="train_live_stop").click().run()
    assert engine.wait(job, poll_s=0.2, timeout=START_TIMEOUT).state == engine_records.STOPPED


def test_experiments_rerun_under_each_recipe_reruns_that_recipe(monkeypatch):
    """The button under the full-batch run re-runs the full-batch recipe, not the short preset."""
    from explorer.ui import training_view
    from explorer.ui.caches import assets as assets_cache

    started = []
    monkeypatch.setattr(training_view, "start_ui", lambda key, title, configs, recipe, **kw: started.append(recipe))
    at = open_page("experiments")
    assert "**After He et al. 2015, Figs. 1 and 6: a classroom experiment.**" in texts(at)
    full = assets_cache.precomputed_run("degradation-full-batch")
    if full is None:
        pytest.skip("no precomputed full-batch run in assets/runs")
    button = at.button(key="exp_deg_run_degradation-full-batch")
    assert f"({full.train.steps} steps of batch 64 on 64 shapes at 16 px)" in button.label
    button.click().run()
    assert started == [full.train]
    short = at.button(key="exp_deg_run_degradation")
    assert "the short live preset" in short.label
