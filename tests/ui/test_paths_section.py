"""The Gradients page's gradient by path length: the shipped figure, its numbers in words, the table against Veit's."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.experiments.path_lengths import load_path_lengths
from explorer.ui.caches.assets import ASSET_EXPERIMENTS

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def open_gradients(lang: str = "en") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["lang"] = lang
    at.switch_page("explorer/ui/pages/gradients.py")
    at.run()
    assert not at.exception, at.exception
    return at


def paths_chart(at) -> dict:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return next(s for s in specs if "yaxis3" in s["layout"] and s["layout"]["yaxis"].get("type") == "log")


def test_the_figure_and_the_words_show_the_asset_s_numbers():
    data = load_path_lengths(ASSET_EXPERIMENTS)
    if data is None:
        pytest.skip("assets/experiments/path_lengths.json is missing (make assets)")
    at = open_gradients()
    r56 = data["init"]["ResNet-56"]
    lo, hi = r56.effective_range
    names = {t.get("name") for t in paths_chart(at)["data"]}
    assert f"ResNet-56: 90% of the gradient in paths of {lo} to {hi} blocks" in names
    assert "Plain-56: one path, of all 27 blocks" in names
    words = " ".join(m.value for m in at.markdown)
    assert f"**ResNet-56** (27 blocks): 90% of the gradient flows through paths of {lo} to {hi} blocks" in words
    assert f"carry {r56.share_shorter_than_half:.1%} of it" in words
    table = next(d.value for d in at.dataframe if "effective range (blocks)" in d.value.columns)
    assert table.iloc[-1]["effective range (blocks)"] == "5–17"  # Veit et al.'s ResNet-110, last
    at.radio(key="paths_weights").set_value("trained (the degradation run)").run()
    assert not at.exception
    trained = {t.get("name") for t in paths_chart(at)["data"]}
    lo, hi = data["trained"]["ResNet-56"].effective_range
    assert f"ResNet-56: 90% of the gradient in paths of {lo} to {hi} blocks" in trained


def test_in_chinese_the_section_names_no_english_sentence():
    if load_path_lengths(ASSET_EXPERIMENTS) is None:
        pytest.skip("assets/experiments/path_lengths.json is missing (make assets)")
    at = open_gradients("zh")
    words = " ".join(m.value for m in at.markdown)
    assert "Veit" in words and "90% of the gradient flows" not in words
