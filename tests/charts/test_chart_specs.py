"""Figures built as dicts (explorer.charts.spec) are exactly what plotly's validation would give.

The pages send these dicts without building a go.Figure; these tests build one from each and check that
validation changes nothing, so the browser draws what a validated figure would draw.
"""

import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
import torch
from plotly.subplots import make_subplots

from explorer.charts import inside, spec
from explorer.charts.model import architecture_spec
from explorer.interpret.probes import feature_maps, residual_decomposition
from explorer.models.config import ResNetConfig
from explorer.models.resnet import ResNet, build_resnet
from explorer.models.summary import summarize_config


def as_json(fig) -> dict:
    return json.loads(pio.to_json(fig, validate=False))


def assert_valid_as_is(fig: dict) -> None:
    """Validating the dict through go.Figure changes nothing: the page may send it as it is."""
    validated = as_json(go.Figure(fig))
    assert as_json(spec.to_dict(fig)) == validated


@pytest.mark.parametrize(("rows", "cols", "shared"), [(2, 8, False), (1, 5, False), (3, 4, False), (2, 1, True)])
def test_subplot_grid_is_make_subplots(rows, cols, shared):
    titles = [f"t{i}" for i in range(rows * cols - 1)] + [""]  # an empty title gets no annotation, as in plotly
    ours = spec.subplot_grid(rows, cols, titles, hspace=0.02, vspace=0.08, shared_xaxes=shared, title_size=16)
    theirs = make_subplots(
        rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.02, vertical_spacing=0.08, shared_xaxes=shared
    ).to_dict()["layout"]
    theirs.pop("template")
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        if key == "annotations":
            assert len(ours[key]) == len(value)
            for a, b in zip(ours[key], value, strict=True):
                assert a.keys() == b.keys() and a["text"] == b["text"]
                assert (a["x"], a["y"]) == pytest.approx((b["x"], b["y"]))
        else:
            assert ours[key].keys() == value.keys()
            assert ours[key]["domain"] == pytest.approx(value["domain"])


def test_subplot_grid_copies():
    a = spec.subplot_grid(1, 2)
    a["xaxis"]["visible"] = False
    assert "visible" not in spec.subplot_grid(1, 2)["xaxis"]  # the kept layout is never handed out


@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("layer", ["relu", "layer1.0", "layer2.0"])
def test_inside_specs_are_valid_as_is(residual, layer, cifar_batch):
    model = build_resnet(ResNetConfig("cifar", 8, residual=residual, shortcut="B", width=8), seed=0)
    for k in (3, 8):
        fm = feature_maps(model, layer, cifar_batch, k=k)
        assert_valid_as_is(inside.feature_map_spec(fm, cols=4, title="T"))
        assert_valid_as_is(inside.feature_map_spec(fm, shared_scale=False))
        assert_valid_as_is(inside.channel_stats_spec(fm))
    if layer != "relu":
        d = residual_decomposition(model, layer, cifar_batch)
        assert_valid_as_is(inside.residual_spec(d))
        assert_valid_as_is(inside.residual_spec(d, channel=1))


def test_feature_map_spec_sends_typed_arrays(tiny_model, cifar_batch):
    """Maps go as plotly's base64 typed arrays (as go.Figure.to_dict writes them), not lists of floats."""
    fig = spec.to_dict(inside.feature_map_spec(feature_maps(tiny_model, "layer1.0", cifar_batch, k=4)))
    assert len(fig["data"]) == 4 and all(set(t["z"]) == {"dtype", "bdata", "shape"} for t in fig["data"])
    assert fig["layout"]["template"] == pio.templates["plotly_white"].to_plotly_json()


@pytest.mark.parametrize("depth", [8, 110])
@pytest.mark.parametrize(("residual", "shortcut"), [(True, "A"), (True, "B"), (False, "A")])
def test_architecture_spec_is_valid_as_is(depth, residual, shortcut):
    config = ResNetConfig("cifar", depth, residual=residual, shortcut=shortcut)
    with torch.device("meta"):
        model = ResNet(config)
    for scale in (None, 0.25):
        assert_valid_as_is(architecture_spec(model, summarize_config(config).layers, scale))
    assert_valid_as_is(architecture_spec(model))


@pytest.mark.parametrize(
    ("size", "signed", "vmax", "title"), [(32, False, None, "T"), (224, True, 2.0, None), (32, True, None, "T")]
)
def test_overlay_spec_is_valid_as_is_and_draws_what_the_go_figure_drew(size, signed, vmax, title):
    from explorer.charts.attribution import image_trace, overlay_spec
    from explorer.charts.colors import COLOURMAPS, colour_range, overlay_inputs
    from explorer.charts.style import TEMPLATE, apply_style

    rng = np.random.default_rng(size)
    image, cam = rng.random((size, size, 3)), rng.standard_normal((size, size)).astype(np.float32)
    ours = overlay_spec(image, cam, 0.4, title, signed=signed, vmax=vmax)
    assert_valid_as_is(ours)
    # the overlay as it was built before, with go.Figure: the same JSON (an untitled one had an empty title)
    img, z = overlay_inputs(image, cam, 0.4)
    name, zmin, zmax = colour_range(z, "inferno", signed, vmax)
    step = max(1, int(np.ceil(size / 112)))
    fig = go.Figure(image_trace(img))
    fig.add_trace(
        go.Heatmap(
            z=z[step // 2 :: step, step // 2 :: step],
            x0=step // 2,
            dx=step,
            y0=step // 2,
            dy=step,
            zmin=zmin,
            zmax=zmax,
            colorscale=COLOURMAPS[name],
            opacity=0.4,
            colorbar={"title": {"text": "signed" if signed else "evidence"}, "thickness": 18},
            hovertemplate="x %{x}, y %{y}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_layout(template=TEMPLATE)  # the app's default (explorer.charts.style); Streamlit's import changes it
    before = as_json(apply_style(fig, title, height=520))
    if title is None:
        assert before["layout"].pop("title") == {}
    assert as_json(spec.to_dict(ours)) == before


def test_a_crowded_architecture_shows_short_box_labels_and_keeps_the_full_ones_in_the_hover():
    """ResNet-20 has eleven boxes: "3x3, 16<br>3x3, 16" ran into its neighbours at 1024 px; it shows "3·3<br>16"."""
    spec = architecture_spec(build_resnet(ResNetConfig("cifar", 20), seed=0))
    boxes = [a["text"] for a in spec["layout"]["annotations"] if a.get("y") == 0 and a["text"] not in ("stem", "head")]
    assert boxes[0] == "3·3<br>16" and boxes[-1] == "3·3<br>64" and len(boxes) == 9
    hover = next(t for t in spec["data"] if t.get("hovertext") or t.get("text"))
    assert any("3x3, 16<br>3x3, 16" in h for h in (hover.get("hovertext") or hover.get("text")))
    small = architecture_spec(build_resnet(ResNetConfig("cifar", 8), seed=0))  # 5 boxes: the full text fits
    assert "3x3, 16<br>3x3, 16" in [a["text"] for a in small["layout"]["annotations"]]
    wide = architecture_spec(build_resnet(ResNetConfig("imagenet", 50, shortcut="B"), seed=0))  # 18 boxes
    texts = [a["text"] for a in wide["layout"]["annotations"]]
    assert "256" in texts and "3·3<br>256" not in texts  # the output channels alone
    assert [t for t in texts if t.startswith("layer")] == ["layer1", "layer2", "layer3", "layer4"]  # one per stage
