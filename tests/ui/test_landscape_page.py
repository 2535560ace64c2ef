"""AppTest for the Landscapes page: the precomputed landscapes at once, and one computed live."""

from pathlib import Path

import pytest
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


def test_page_shows_the_precomputed_landscapes_and_switches_views():
    at = open_page()
    assert not at.exception, at.exception
    assert at.title[0].value == "Loss landscapes"
    body = "\n".join(m.value for m in at.markdown)
    assert "Li, Xu, Taylor, Studer and Goldstein 2018" in body
    if any(PRECOMPUTED.glob("*.json")):
        assert "What our surfaces show" in [h.value for h in at.subheader]
        for name in ("Plain-20", "ResNet-20", "Plain-56", "ResNet-56"):  # a note made from each surface's numbers
            assert f"- **{name}** sits " in body
        assert "Goodfellow, Vinyals and Saxe 2015" in body
        table = at.dataframe[0].value
        assert list(table["network"]) == ["Plain-20", "ResNet-20", "Plain-56", "ResNet-56"]
        charts = at.get("plotly_chart")
        assert len(charts) >= 3  # 20 and 56 layers side by side, the cross-section (and the init line)
    if any(FULL_BATCH.glob("*.json")):  # the full-batch run beside the short one, with notes of its own
        assert "Computed in advance: a full-batch recipe on 64 images" in [h.value for h in at.header]
        assert [h.value for h in at.subheader].count("What our surfaces show") == 2
        assert body.count("- **Plain-56** sits in a basin at loss 0.097") == 1  # its own centre loss, float32
        full = at.dataframe[1].value  # the second run's table
        assert list(full["network"]) == ["Plain-20", "ResNet-20", "Plain-56", "ResNet-56"]
        assert "**Plain-56**: down with a bump on the way (up to 2.81), from 2.34 to 0.096." in body
    at.radio(key="landscape_view").set_value("3-D surface").run()
    assert not at.exception
    at.toggle(key="landscape_log").set_value(False).run()
    assert not at.exception


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
    if not surfaces:
        pytest.skip("the full-batch landscapes are not in this copy (make assets)")
    minima = {s.network: describe(s)["local_minima"] for s in surfaces}
    assert minima == {"Plain-20": 1, "ResNet-20": 1, "Plain-56": 1, "ResNet-56": 1}  # the claim the page makes
    body = "\n".join(m.value for m in open_page().markdown)
    assert "No chaotic surface here." in body and "has one local minimum" in body
    assert "64 shapes of 16 px" in body and "300 steps" in body and "31 x 31 points" in body
