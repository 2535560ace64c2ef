"""Links that open the same view: every page reads its main choices from the URL and writes them back."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def open_link(page: str, query: dict[str, str]) -> AppTest:
    """A fresh session opening ``/<page>?<query>``, as a student following the teacher's link."""
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update(query)
    at.switch_page(f"explorer/ui/pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def url(at: AppTest) -> dict[str, str]:
    """The query parameters after the run, as the address bar shows them."""
    return {k: v if isinstance(v, str) else v[-1] for k, v in at.query_params.items()}


def test_inside_link_opens_network_twin_layer_sample_and_block():
    first = open_link("inside", {})
    networks = first.selectbox(key="net_source").options
    network = networks[1]
    layers = first.select_slider(key="inside_layer").options
    at = open_link(
        "inside",
        {"network": network, "twins": "false", "layer": layers[1], "sample": "7", "block": "layer2.0"},
    )
    picker = at.selectbox(key="net_source")
    assert picker.format_func(picker.value) == network  # the link carried the label as shown; the picker its id
    assert at.toggle(key="net_side_by_side").value is False
    assert at.select_slider(key="inside_layer").value == layers[1]
    assert at.slider(key="image_shape_index").value == 7
    assert at.select_slider(key="inside_block").value == "layer2.0"
    q = url(at)
    assert q["network"] == picker.value == "shapes/Plain-20" and q["layer"] == layers[1] and q["sample"] == "7"


def test_explain_link_opens_layer_sample_and_raw_and_follows_changes():
    at = open_link("explain", {"cam_layer": "layer2", "sample": "3", "raw": "true"})
    assert at.select_slider(key="explain_layer").value == "layer2"
    assert at.slider(key="image_shape_index").value == 3
    assert at.toggle(key="explain_raw").value is True
    at.select_slider(key="explain_layer").set_value("layer1").run()
    at.slider(key="image_shape_index").set_value(11).run()
    assert url(at)["cam_layer"] == "layer1" and url(at)["sample"] == "11"


def test_explain_photo_link_opens_the_photo():
    first = open_link("explain", {"image": "Photo sample"})
    photos = first.selectbox(key="image_photo").options
    at = open_link("explain", {"image": "Photo sample", "photo": photos[-1]})
    assert at.radio(key="image_choice").value == "Photo sample"
    assert at.selectbox(key="image_photo").value == photos[-1]
    assert url(at)["photo"] == photos[-1] and "sample" not in url(at)


def test_gradients_link_opens_batch_norm_mode():
    at = open_link("gradients", {"bn": "running statistics (as in evaluation)", "twins": "false"})
    assert at.radio(key="grad_bn_mode").value.startswith("running")
    assert at.toggle(key="net_side_by_side").value is False
    assert url(at)["bn"] == "running statistics (as in evaluation)"


def test_train_link_opens_preset_and_dataset():
    at = open_link("train", {"preset": "quick", "dataset": "mnist"})
    assert at.radio(key="train_preset").value == "quick"
    assert at.selectbox(key="train_dataset").value == "mnist"
    at.radio(key="train_preset").set_value("custom").run()
    assert url(at)["preset"] == "custom"


def test_experiments_link_opens_lesion_depth():
    first = open_link("experiments", {})
    depths = first.radio(key="exp_lesion_depth").options
    at = open_link("experiments", {"lesion_depth": depths[0], "tab": "lesion"})
    assert str(at.radio(key="exp_lesion_depth").value) == depths[0]
    assert url(at)["lesion_depth"] == depths[0] and url(at)["tab"] == "lesion"
    assert at.tabs[1].label == "Lesion study" and at.session_state["exp_tab"] == "Lesion study"


@pytest.mark.parametrize("tab", ["shattered", "Shattered gradients", "破碎梯度"])
def test_experiments_link_carries_the_tab_id_and_older_label_links_still_open_it(tab):
    """A Chinese link opened in English (and an older link naming the label) opens the same tab."""
    from explorer.i18n import language

    with language("zh"):
        from explorer.i18n import _

        assert _("Shattered gradients") == "破碎梯度"  # the older Chinese link's label
    at = open_link("experiments", {"tab": tab})
    assert at.session_state["exp_tab"] == "Shattered gradients" and url(at)["tab"] == "shattered"
    zh = open_link("experiments", {"tab": tab, "lang": "zh"})
    assert zh.session_state["exp_tab"] == "破碎梯度" and url(zh)["tab"] == "shattered"
    zh.radio(key="ui_language").set_value("en").run()  # switching language keeps the open tab
    assert zh.session_state["exp_tab"] == "Shattered gradients" and url(zh)["tab"] == "shattered"


@pytest.mark.parametrize(
    ("page", "query"),
    [
        ("inside", {"network": "no such network", "layer": "layer9.9", "sample": "999", "block": "x"}),
        ("explain", {"cam_layer": "nope", "sample": "-4", "target": "a cat (99%)", "image": "Telepathy"}),
        ("gradients", {"bn": "sometimes"}),
        ("train", {"preset": "everything", "dataset": "imagenet-21k", "reopen": "missing"}),
        ("experiments", {"lesion_depth": "7", "tab": "Nope"}),
        ("build", {"family": "vgg", "depth": "abc", "width": "5", "scale": "7"}),
        ("landscape", {"view": "Nope", "landscape_run": "gone", "net": "Plain-999"}),
    ],
)
def test_a_mistyped_link_falls_back_to_defaults(page, query):
    at = open_link(page, query)
    assert not at.error, [e.value for e in at.error]
    assert len(at.title) == 1


def test_a_link_carries_only_its_page_choices():
    at = open_link("learn", {"layer": "layer1", "depth": "56"})
    assert "layer" not in url(at) and "depth" not in url(at)
    at = open_link("build", {"layer": "layer1", "depth": "56"})
    assert "layer" not in url(at) and url(at)["depth"] == "56"


def test_landscape_link_opens_view_run_and_network():
    first = open_link("landscape", {})
    if not first.selectbox(key="landscape_run").options:
        pytest.skip("no saved runs here")
    run = first.selectbox(key="landscape_run").options[-1].split("): ")[0] + ")"  # shown with its accuracy
    at = open_link("landscape", {"view": "3-D surface", "landscape_run": run})
    nets = at.selectbox(key="landscape_net").options
    at = open_link("landscape", {"view": "3-D surface", "landscape_run": run, "net": nets[-1]})
    assert at.radio(key="landscape_view").value == "3-D surface"
    assert at.selectbox(key="landscape_run").value == run and at.selectbox(key="landscape_net").value == nets[-1]
    assert url(at)["view"] == "3-D surface" and url(at)["net"] == nets[-1]


def test_explain_shapes_sample_on_an_imagenet_network_is_not_an_error():
    """A 224 x 224 crop's map does not line up with a shape's outline: the page says so instead of failing."""
    network = "The network in the sidebar, untrained"
    at = open_link("explain", {"network": network, "family": "imagenet", "depth": "18", "image": "Shapes sample"})
    assert at.selectbox(key="net_source").value == "sidebar"  # an old link's label opens the network by its id
    assert "ResNet-18" in " ".join(s.value for s in at.subheader)
    captions = " ".join(c.value for c in at.caption)
    assert "outline check needs a network that sees the sample at its own size" in captions


@pytest.fixture
def no_engine(monkeypatch, tmp_path):
    """Runs saved in ``tmp_path``; a scheduler address where nothing listens (a link's run is read from its folder,
    and the page's engine calls give up in a second instead of starting a local cluster)."""
    import dask

    from explorer.deploy.ports import free_port
    from explorer.engine import client as engine_client

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    engine_client.close()
    monkeypatch.setenv(engine_client.SCHEDULER_ENV, f"tcp://127.0.0.1:{free_port()}")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        yield tmp_path
    engine_client.close()


def _saved_run(root, title: str, nets, steps: int) -> str:
    """A run trained and saved by the job's own code, as a worker would; its id, as ``?run=`` carries it."""
    from dataclasses import replace

    from explorer.engine import worker as engine_worker
    from explorer.tasks import training as tasks
    from explorer.training.presets import PRESETS

    train = replace(
        PRESETS["quick"], steps=steps, batch_size=8, train_size=32, eval_size=8, eval_every=10, image_size=16
    )
    job = tasks.training_job(title, nets, train, root, checkpoint_every=0)
    tasks.train_task(job.spec, engine_worker.LocalContext())
    return job.id


def test_a_link_to_a_run_shows_its_preset_and_steps_not_the_defaults(no_engine):
    from explorer.models.config import ResNetConfig

    run = _saved_run(no_engine, "Quick", [ResNetConfig(depth=8, width=4, residual=r) for r in (False, True)], 30)
    at = open_link("train", {"run": run})
    assert at.session_state["train_live"].endswith(run)
    assert at.radio(key="train_preset").value == "quick"  # not the "degradation" default
    assert at.slider(key="train_steps_quick").value == 30 and at.selectbox(key="train_dataset").value == "shapes"
    assert url(at)["preset"] == "quick" and url(at)["run"] == run
    at.radio(key="train_preset").set_value("degradation").run()  # the link set the form once; the user may change it
    assert at.radio(key="train_preset").value == "degradation"


def test_a_link_to_a_run_of_the_sidebar_network_shows_that_network(no_engine):
    from explorer.models.config import ResNetConfig

    net = ResNetConfig(depth=14, width=8, residual=True, shortcut="B")
    run = _saved_run(no_engine, "The network in the sidebar and its twin", [net.twin(), net], 20)
    at = open_link("train", {"run": run})
    assert at.radio(key="train_preset").value == "custom"
    assert at.select_slider(key="net_depth").value == 14 and at.select_slider(key="net_width").value == 8
    assert at.radio(key="net_shortcut").value == "B" and at.toggle(key="net_residual").value is True
    assert at.slider(key="train_steps_custom").value == 20
    assert any("Plain-14" in m.value and "ResNet-14" in m.value for m in at.markdown)  # the networks it would train


@pytest.mark.parametrize(("given", "opened"), [("0.33", 0.35), ("-1", 1.0), ("nan", 1.0)])
def test_build_link_opens_the_shortcut_scale_on_the_sliders_steps(given, opened):
    at = open_link("build", {"scale": given})
    assert at.slider(key="net_shortcut_scale").value == opened
    assert url(at)["scale"] == f"{opened:g}"
