"""The diagrams' geometry holds together: lines join the boxes they connect, arcs land where they point, text sits
in its box (``explorer.charts.model`` drawn from ``explorer.charts.diagram``'s pieces)."""

import re

import pytest

from explorer.charts.model import architecture_spec, block_figure
from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet


def _arc_ends(path: str) -> tuple[tuple[float, float], tuple[float, float]]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]
    return (numbers[0], numbers[1]), (numbers[-2], numbers[-1])


@pytest.mark.parametrize(
    "config",
    [ResNetConfig("cifar", 20), ResNetConfig("cifar", 20, shortcut="B", preact=True), ResNetConfig("imagenet", 50)],
    ids=["resnet20", "preact-B", "resnet50"],
)
def test_architecture_lines_join_neighbouring_boxes_and_arcs_rise_from_the_gaps(config):
    shapes = architecture_spec(build_resnet(config, seed=0))["layout"]["shapes"]
    boxes = [s for s in shapes if s["type"] == "rect"]
    lines = [s for s in shapes if s["type"] == "line"]
    arcs = [s for s in shapes if s["type"] == "path"]
    assert len(lines) == len(boxes) - 1 and len(arcs) == len(boxes) - 2  # every block residual: one arc each
    for left, right, link in zip(boxes, boxes[1:], lines, strict=False):
        assert link["x0"] == pytest.approx(left["x1"]) and link["x1"] == pytest.approx(right["x0"])
    for i, a in enumerate(arcs, start=1):  # block i is box i: its arc starts before it and ends after it
        (x0, y0), (x1, y1) = _arc_ends(a["path"])
        assert boxes[i - 1]["x1"] < x0 < boxes[i]["x0"] and boxes[i]["x1"] < x1 < boxes[i + 1]["x0"]
        assert 0 < y0 < boxes[i]["y1"] and 0 < y1 < boxes[i]["y1"]


@pytest.mark.parametrize("kind", ["basic", "bottleneck"])
@pytest.mark.parametrize("preact", [False, True])
@pytest.mark.parametrize("shortcut", ["identity", "A", "B"])
def test_a_blocks_shortcut_lands_on_the_addition_and_each_text_sits_in_its_box(kind, preact, shortcut):
    layout = block_figure(kind, shortcut, residual=True, channels=16, preact=preact).layout
    add = next(s for s in layout.shapes if s.type == "circle")
    (x0, _y0), (x1, y1) = _arc_ends(next(s for s in layout.shapes if s.type == "path").path)
    assert x0 > 0 and x1 == pytest.approx((add.x0 + add.x1) / 2) and y1 == pytest.approx(add.y1, abs=0.02)
    main = next(s for s in layout.shapes if s.type == "line")
    assert main.x0 == 0 and main.x1 > add.x1  # the path runs on past the addition
    texts = {(a.x, a.y): a.text for a in layout.annotations}
    boxes = [s for s in layout.shapes if s.type == "rect"]
    assert len(boxes) == (6 if kind == "basic" else 9)  # the ops, and the 2015 block's ReLU after the addition
    for b in boxes:
        centre = (b.x0 + b.x1) / 2
        inside = [t for (x, y), t in texts.items() if y == 0 and x == pytest.approx(centre)]
        assert inside, f"no text in the box at x = {centre}"
    out = next(a for a in layout.annotations if a.text == "<b>out</b>")
    assert out.x > main.x1 and out.x > max(b.x1 for b in boxes)


def test_a_plain_block_draws_no_addition_and_no_shortcut():
    shapes = block_figure("basic", residual=False).layout.shapes
    assert not [s for s in shapes if s.type in ("circle", "path")]
