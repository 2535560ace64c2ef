"""The Train page on a real Dask scheduler and a separate worker: live progress, a shared link, a real Stop."""

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.engine import client as engine_client
from explorer.engine import jobs as engine
from tests.engine.cluster import START_TIMEOUT, wait_until
from tests.support.apptest import texts

APP = str(Path(__file__).resolve().parents[2] / "app.py")

pytestmark = pytest.mark.slow


def train_page(**params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update(params)
    at.switch_page("explorer/ui/pages/train.py")
    return at.run()


def test_train_page_trains_on_the_worker_shares_a_link_and_stops(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    trained = engine.job_count("train")  # the cluster serves the whole run: count this test's starts
    at = train_page()
    at.radio(key="train_preset").set_value("quick").run()
    at.slider(key="train_steps_quick").set_value(1000).run()
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    job = at.session_state["train_live"]
    assert at.query_params["run"] == engine.job_id(job)
    wait_until(lambda: engine.status(job).step >= 2)
    at.run()
    assert not at.exception and "share it" in texts(at)
    bars = [p.proto.text for p in at.get("progress")]
    assert any(t.startswith("step ") and " of 1000" in t for t in bars), bars

    other = train_page(run=engine.job_id(job))  # a student opens the teacher's link
    assert other.session_state["train_live"] == job and not other.exception
    assert other.button(key="train_start").disabled  # it is running: Start would only join it
    assert engine.job_count("train") == trained + 1

    at.button(key="train_live_stop").click().run()
    st = engine.wait(job, poll_s=0.2, timeout=START_TIMEOUT)
    assert st.state == engine.STOPPED and st.step < 1000
    time.sleep(0.2)
    at.run()
    assert any("Stopped after" in w.value for w in at.warning), texts(at)
    assert any(label.startswith("ResNet-20 (Quick") for label in at.session_state["trained_models"])
    other.run()  # the link now opens the stopped run, read from its folder
    assert any("Stopped after" in w.value for w in other.warning)

    at.button(key="train_start").click().run()  # Start after Stop: the job goes on, and both pages follow it
    assert not at.exception, at.exception
    wait_until(lambda: engine.status(job).active)
    for session in (at, other):
        session.run()
        assert not any("Stopped after" in w.value for w in session.warning), texts(session)
        assert session.get("progress") or session.info, texts(session)  # the new execution: queued or training
        assert session.button(key="train_start").disabled
    engine.stop(job)
    assert engine.wait(job, poll_s=0.2, timeout=START_TIMEOUT).state == engine.STOPPED


def test_an_unreachable_engine_is_a_plain_message_not_a_traceback(monkeypatch):
    import dask

    from explorer.deploy.ports import free_port

    engine_client.close()
    monkeypatch.setenv(engine_client.SCHEDULER_ENV, f"tcp://127.0.0.1:{free_port()}")  # nothing listens there
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        at = train_page(run="0123456789abcdef")
    engine_client.close()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any("not answering right now" in e for e in errors), errors
    assert not any("tcp://" in e or "dask scheduler" in e for e in errors), errors  # the operator's details: the log


def test_explain_randomisation_check_runs_as_a_job_and_shows_its_curves(cluster):
    randomised = engine.job_count("randomise")
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page("explorer/ui/pages/explain.py")
    at.run()
    assert not any(b.key == "explain_randomise_stop" for b in at.button)  # no Stop that only reran the page
    at.button(key="explain_randomise").click().run()
    assert not at.exception, at.exception
    job = at.session_state["explain_randomise_job"]
    assert job.startswith("explorer-randomise-")
    st = engine.wait(job, poll_s=0.2, timeout=START_TIMEOUT)
    assert st.state == engine.DONE, st.message
    at.run()
    assert not at.exception, at.exception
    charts = [c for c in at.get("plotly_chart") if "explain_randomisation" in str(c.proto.id)]
    assert charts, "the randomisation curves are drawn once the job has finished"
    assert "Guided Grad-CAM (absolute)" in charts[0].proto.spec  # the method that fails, on the same chart
    table = [d.value for d in at.dataframe if "method" in d.value.columns][0]
    assert {"Grad-CAM", "Guided Grad-CAM", "Saliency"} <= set(table["method"])
    assert len(set(table["network"])) == 2  # the network and its twin
    assert "necessary, not sufficient" in texts(at)
    assert engine.job_count("randomise") == randomised + 1


def test_missing_data_is_said_in_plain_words_and_goes_with_the_choice(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    at = train_page()
    at.radio(key="train_preset").set_value("quick").run()
    at.selectbox(key="train_dataset").set_value("cifar10").run()
    at.button(key="train_start").click().run()
    job = at.session_state["train_live"]
    assert engine.wait(job, poll_s=0.2, timeout=START_TIMEOUT).state == engine.FAILED  # no CIFAR-10 on the worker
    at.run()
    assert not at.exception, at.exception
    error = "\n".join(e.value for e in at.error)
    assert "CIFAR-10 files are missing" in error and "data/cifar-10-batches-py" in error, error
    assert "Download the data if it is not in ./data" in error  # what to tick, as the page names it
    for developer_words in ("Error", "download=True", "torchvision", str(tmp_path), "/tmp/"):
        assert developer_words not in error, error

    zh = train_page(run=engine.job_id(job), lang="zh")  # another viewer reads it in their language
    assert any("CIFAR-10" in e.value and "数据" in e.value for e in zh.error), [e.value for e in zh.error]

    at.selectbox(key="train_dataset").set_value("shapes").run()  # the choice that caused it changes
    assert not at.error and "train_live" not in at.session_state and "run" not in at.query_params


def test_a_link_to_no_run_says_so_and_offers_no_share(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))  # the cluster outlives this module: its run saves here
    for run in ("nonsense", "0123456789abcdef"):
        at = train_page(run=run)
        assert not at.exception, at.exception
        assert any("names no training run" in w.value for w in at.warning), texts(at)
        assert "share it" not in texts(at) and "No training job" not in texts(at)
    at.radio(key="train_preset").set_value("quick").run()
    at.button(key="train_start").click().run()  # a run started from there: the address names it now
    assert not any("names no training run" in w.value for w in at.warning) and "share it" in texts(at)
    engine.stop(at.session_state["train_live"])
    assert engine.wait(at.session_state["train_live"], poll_s=0.2, timeout=START_TIMEOUT).state == engine.STOPPED
