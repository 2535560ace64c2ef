"""The one run picker of the live computations (Landscapes, Trust the map?): the best-trained run that fits by
default, never merely the newest; each run with its accuracy; a warning before computing on a network near chance."""

import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.training.runs import load_run
from explorer.ui.run_picker import best_first, near_chance
from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
SHAPES = ROOT / "assets" / "runs" / "shapes"


@pytest.fixture(scope="module")
def runs_with_a_short_one(tmp_path_factory):
    """The shipped shapes run (400 steps) and a newer 2-step run of the same shapes, near chance."""
    if not (SHAPES / "config.json").is_file():
        pytest.skip("assets/runs/shapes is not in this copy (make assets)")
    root = tmp_path_factory.mktemp("picker-runs")
    shutil.copytree(SHAPES, root / "shapes-long")
    r = run_cli(
        "train", "--depth", "8", "--width", "4", "--steps", "2", "--batch-size", "8", "--train-size", "16",
        "--eval-size", "8", "--image-size", "16", "--threads", "1", "--out", str(root / "short"), "--name", "short",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return root


def test_best_first_ranks_by_accuracy_not_date(runs_with_a_short_one):
    short, long = load_run(runs_with_a_short_one / "short"), load_run(runs_with_a_short_one / "shapes-long")
    assert best_first([short, long]) == [long, short]
    assert best_first([long, short], fits=lambda r: r.name == "short") == [short, long]  # what fits comes first
    assert near_chance(short, "ResNet-8") and not near_chance(long, "ResNet-56")
    assert near_chance(long, "Plain-56")  # the shapes run's Plain-56 never learned


@pytest.mark.parametrize("page, key", [("landscape", "landscape_run"), ("saliency", "saliency_run")])
def test_the_pages_default_to_the_best_run_and_warn_near_chance(runs_with_a_short_one, monkeypatch, page, key):
    monkeypatch.setenv("EXPLORER_RUNS", str(runs_with_a_short_one))
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page(f"explorer/ui/pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    box = at.selectbox(key=key)
    shown = box.options  # as the page shows them
    accuracy = [int(re.search(r"accuracy (?:\d+% to )?(\d+)%", s).group(1)) for s in shown]  # each run's best
    assert not box.value.startswith("short (") and accuracy[0] == max(accuracy) > 90, shown  # not the newest
    assert any(s.startswith("short (short, 2 steps)") and a < 30 for s, a in zip(shown, accuracy, strict=True))
    if page == "landscape":  # the deep plain network of the shapes run never learned
        box.set_value("shapes (shapes-long, 400 steps)").run()
        at.selectbox(key="landscape_net").set_value("Plain-56").run()
        assert any("near chance" in w.value for w in at.warning), [w.value for w in at.warning]
    at.selectbox(key=key).set_value("short (short, 2 steps)").run()
    assert not at.exception, at.exception
    assert any("near chance" in w.value and "guessing among" in w.value for w in at.warning), at.warning
