"""AppTest for "Can you trust the map?": the precomputed benchmark, in English and Chinese, a run without
outlines, and the benchmark computed live as a job."""

import json
import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.engine import jobs as engine
from explorer.experiments.saliency_maps import METHOD_KEYS
from tests.engine.cluster import START_TIMEOUT
from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PRECOMPUTED = ROOT / "assets" / "experiments" / "saliency"
HAN = re.compile(r"[\u4e00-\u9fff]")


def open_page(lang: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    if lang:
        at.query_params["lang"] = lang
    at.switch_page("explorer/ui/pages/saliency.py")
    return at.run()


def _shipped() -> list[dict]:
    """The precomputed benchmark, which ships in assets/."""
    results = [json.loads(p.read_text()) for p in PRECOMPUTED.glob("*.json")]
    assert results, f"the precomputed benchmark ships in {PRECOMPUTED}"
    return results


def test_page_shows_the_precomputed_benchmark():
    at = open_page()
    assert not at.exception, at.exception
    assert at.title[0].value == "Can you trust the map?"
    results = _shipped()
    table = at.dataframe[0].value
    assert len(table) == len(METHOD_KEYS) * len(results)  # every method of every network and weights
    assert set(table["network"]) == {r["network"] for r in results}
    body = "\n".join(m.value for m in at.markdown)
    for source in ("Zhang et al. 2018", "Arras, Osman and Samek 2022", "Petsiuk, Das and Saenko 2018"):
        assert source in body
    assert len(at.get("plotly_chart")) >= 4  # one chart per metric (then the examples)
    assert at.warning or at.success  # the page says whether the centre map wins the pointing game
    at.toggle(key="saliency_pre_saliency_correct").set_value(True).run()
    assert not at.exception, at.exception


def test_verdicts_leave_out_networks_near_chance_and_show_their_n():
    """The centre verdict speaks of intervals and never of a network that did not learn; the randomisation means
    carry their n; the correct-only view leaves the randomised networks out and says why."""
    from explorer.experiments.saliency_verdicts import near_chance

    results = _shipped()
    weak = [r["network"] for r in results if r["weights"] == "trained" and near_chance(r)]
    at = open_page()
    assert not at.exception, at.exception
    verdict = (at.warning or at.success)[0].value
    assert "95%" in verdict or "interval" in verdict
    assert all(f"{n}:" not in verdict for n in weak)  # no line of the verdict is about a network near chance
    body = "\n".join(m.value for m in at.markdown)
    assert all(n in body for n in weak) and "Left out of every verdict" in body
    assert re.search(r"\(\d networks, \d+ images\) → \d\.\d\d \(\d networks, \d+ images\)", body)
    assert "Which removal tells a method from noise?" in body
    table = at.dataframe[0].value
    assert "images" in table and set(table["images"]) == {r["images"] for r in results}
    assert {"ROAD deletion ↓", "ROAD insertion ↑"} <= set(table.columns)
    at.toggle(key="saliency_pre_saliency_correct").set_value(True).run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert set(table["weights"]) == {"trained"}
    assert any("leaves the randomised networks out" in c.value for c in at.caption)


def test_page_speaks_chinese():
    at = open_page("zh")
    assert not at.exception, at.exception
    assert HAN.search(at.title[0].value), at.title[0].value
    assert HAN.search(at.header[0].value), at.header[0].value
    body = "\n".join(m.value for m in at.markdown)
    assert "热力图" not in body and "会被骗" not in body and "局限" in body


@pytest.fixture(scope="module")
def tiny_shapes_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny-shapes"
    r = run_cli(
        "train", "--depth", "8", "--width", "4", "--steps", "2", "--batch-size", "8", "--train-size", "16",
        "--eval-size", "8", "--image-size", "16", "--threads", "1", "--out", str(out), "--name", "tiny-shapes",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


def _select(at: AppTest, name: str) -> None:
    options = [o for o in at.selectbox(key="saliency_run").options if o.startswith(f"{name} (")]
    at.selectbox(key="saliency_run").set_value(options[0].split("): ")[0] + ")").run()  # shown with its accuracy


def test_a_run_without_outlines_is_told_so(tiny_shapes_run, tmp_path, monkeypatch):
    other = tmp_path / "cifar-run"
    shutil.copytree(tiny_shapes_run, other)
    config = json.loads((other / "config.json").read_text())
    config["train"]["dataset"], config["name"] = "cifar10", "cifar-run"
    (other / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    at = open_page()
    _select(at, "cifar-run")
    assert not at.exception, at.exception
    assert any("needs the built-in shapes" in i.value for i in at.info)


def test_live_benchmark_runs_as_a_job(cluster, tiny_shapes_run, monkeypatch):  # noqa: F811
    monkeypatch.setenv("EXPLORER_RUNS", str(tiny_shapes_run.parent))
    at = open_page()
    _select(at, "tiny-shapes")
    at.select_slider(key="saliency_images").set_value(16)
    at.checkbox(key="saliency_random").set_value(False)
    at.run()
    at.button(key="saliency_compute").click().run()
    assert not at.exception, at.exception
    job = at.session_state["saliency_job"]
    st = engine.wait(job, poll_s=0.2, timeout=START_TIMEOUT)
    assert st.state == engine.DONE, st.message
    results = engine.result(job)
    assert [(r["network"], r["weights"], r["images"]) for r in results] == [("ResNet-8", "trained", 16)]
    at.run()
    assert not at.exception, at.exception
    assert at.dataframe, "the live result's table"
