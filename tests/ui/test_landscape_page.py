"""AppTest for the Landscapes page: the precomputed landscapes at once, and one computed live."""

import base64
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from explorer.engine import jobs as engine
from tests.engine.cluster import START_TIMEOUT

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PRECOMPUTED = ROOT / "assets" / "experiments" / "landscape"
FULL_BATCH = ROOT / "assets" / "experiments" / "landscape-full-batch"


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page("explorer/ui/pages/landscape.py")
    return at.run()


def charts(at: AppTest) -> list[dict]:
    """The plotly JSON of every chart on the page, in order."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def landscapes(specs: list[dict], kind: str) -> list[dict]:
    """The charts that draw surfaces as ``kind`` ("contour" or "surface")."""
    return [s for s in specs if any(t.get("type") == kind for t in s["data"])]


def highest_z(spec: dict) -> float:
    """The largest value any surface of a chart colours (plotly writes arrays as base64 of their bytes)."""
    zs = []
    for t in spec["data"]:
        z = t.get("z")
        if isinstance(z, dict):
            zs.append(np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]))
        elif z is not None:
            zs.append(np.asarray(z, dtype=float).ravel())
    return float(np.nanmax(np.concatenate(zs)))


def test_page_shows_the_precomputed_landscapes_and_switches_views():
    assert any(PRECOMPUTED.glob("*.json")) and any(FULL_BATCH.glob("*.json")), "the landscapes ship in assets/"
    at = open_page()
    assert not at.exception, at.exception
    assert at.title[0].value == "Loss landscapes"
    body = "\n".join(m.value for m in at.markdown)
    assert "Li, Xu, Taylor, Studer and Goldstein 2018" in body
    assert "What our surfaces show" in [h.value for h in at.subheader]
    for name in ("Plain-20", "ResNet-20", "Plain-56", "ResNet-56"):  # a note made from each surface's numbers
        assert f"- **{name}** sits " in body
    assert "Goodfellow, Vinyals and Saxe 2015" in body
    table = at.dataframe[0].value
    assert list(table["network"]) == ["Plain-20", "ResNet-20", "Plain-56", "ResNet-56"]
    # the full-batch run beside the short one, with notes of its own
    assert "Computed in advance: a full-batch recipe on 64 images" in [h.value for h in at.header]
    assert [h.value for h in at.subheader].count("What our surfaces show") == 2
    assert body.count("- **Plain-56** sits in a basin at loss 0.097") == 1  # its own centre loss, float32
    full = at.dataframe[1].value  # the second run's table
    assert list(full["network"]) == ["Plain-20", "ResNet-20", "Plain-56", "ResNet-56"]
    assert "**Plain-56**: down with a bump on the way (up to 2.81), from 2.34 to 0.096." in body

    contours = charts(at)
    assert len(contours) >= 6  # per run: 20 and 56 layers side by side, the cross-section (and the init line)
    assert len(landscapes(contours, "contour")) == 4 and not landscapes(contours, "surface")  # 2 runs x 2 depths
    at.radio(key="landscape_view").set_value("3-D surface").run()
    assert not at.exception, at.exception
    surfaces = charts(at)
    assert len(landscapes(surfaces, "surface")) == 4 and not landscapes(surfaces, "contour")
    assert [s["data"] for s in landscapes(surfaces, "surface")] != [s["data"] for s in landscapes(contours, "contour")]
    # log scale (the default): log10 of the loss, clipped at 1000; off: the loss itself, up to 10
    assert all(highest_z(s) <= 3 for s in landscapes(surfaces, "surface"))
    at.toggle(key="landscape_log").set_value(False).run()
    assert not at.exception, at.exception
    linear = charts(at)
    assert len(linear) == len(surfaces) and linear != surfaces
    assert all(3 < highest_z(s) <= 10 for s in landscapes(linear, "surface"))


def test_live_computation_of_a_network_and_its_twin_runs_as_a_job(cluster, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))  # no runs of our own: the shipped one is listed
    at = open_page()
    assert not at.exception, at.exception
    shipped = [o for o in at.selectbox(key="landscape_run").options if o.startswith("degradation (degradation,")]
    # two runs ship: pick the preset's (the options are "name (folder, N steps)"; the page shows their accuracy too)
    at.selectbox(key="landscape_run").set_value(shipped[0].split("): ")[0] + ")").run()
    at.selectbox(key="landscape_net").set_value("Plain-20")
    at.select_slider(key="landscape_grid").set_value(5)
    at.select_slider(key="landscape_images").set_value(32)
    at.run()
    at.button(key="landscape_compute").click().run()
    assert not at.exception, at.exception
    job = at.session_state["landscape_job"]
    assert job.startswith("explorer-landscape-")
    st = engine.wait(job, poll_s=0.2, timeout=START_TIMEOUT)
    assert st.state == engine.DONE, st.message
    results = engine.result(job)
    assert [r.network for r in results] == ["Plain-20", "ResNet-20"]
    assert all(r.complete and r.loss.shape == (5, 5) and r.images == 32 for r in results)
    at.run()
    assert not at.exception, at.exception
    assert "Computed live from run degradation." in [c.value for c in at.caption]
    assert engine.job_count("landscape") == 1


def test_full_batch_surfaces_have_one_local_minimum_and_the_page_says_what_that_means():
    from explorer.experiments.landscape_records import describe, load_landscapes

    surfaces, _lines = load_landscapes(FULL_BATCH)
    assert surfaces, "the full-batch landscapes ship in assets/"
    minima = {s.network: describe(s)["local_minima"] for s in surfaces}
    assert minima == {"Plain-20": 1, "ResNet-20": 1, "Plain-56": 1, "ResNet-56": 1}  # the claim the page makes
    body = "\n".join(m.value for m in open_page().markdown)
    assert "No chaotic surface here." in body and "has one local minimum" in body
    assert "64 shapes of 16 px" in body and "300 steps" in body and "31 x 31 points" in body
