"""A class at once: 8 real Streamlit sessions against one real server on loopback (not timed).

Each session speaks Streamlit's own WebSocket protocol (tests/support/session_client.py). Before the
pages were built on every run, sessions running at the same moment raised "This page cannot be called
directly" from the shared st.Page objects.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import re
from pathlib import Path

import pytest

from tests.support.server import start_server, stop_server
from tests.support.session_client import StreamlitSession

ROOT = Path(__file__).resolve().parents[2]
SESSIONS = 8

pytestmark = pytest.mark.slow


def run_async(coro):
    """``asyncio.run`` on a thread of its own: the browser tests' playwright keeps an event loop running in
    the main thread for the whole session, and asyncio.run refuses to start inside it."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="module")
def class_server(tmp_path_factory):
    runs = tmp_path_factory.mktemp("class-runs")
    proc, url = start_server(ROOT, env={"EXPLORER_RUNS": str(runs), "EXPLORER_DIAGNOSTICS": "1"})
    try:
        yield url
    finally:
        stop_server(proc)


async def _student(url: str, i: int) -> list[str]:
    """Learn; Build with the residual switch off; Explain a sample at another layer; every page once."""
    problems = []
    async with StreamlitSession(url, timeout=300) as s:
        steps = [
            s.open(""),  # the root URL: Learn
            s.open("build"),
            s.set("net_residual", False),
            s.open("explain"),
            s.set("image_shape_index", i),
        ]
        for step in steps:
            r = await step
            problems += r.exceptions + r.errors
        layers = list(s.widgets["explain_layer"].proto.options)
        r = await s.set("explain_layer", layers[i % len(layers)])
        problems += r.exceptions + r.errors
        assert s.query()["sample"] == str(i)  # the URL follows this session's own choices, not another's
        for page in ("inside", "gradients", "train", "experiments", "landscape"):
            r = await s.open(page)
            problems += r.exceptions + r.errors
    return problems


async def _class(url: str) -> list[list[str]]:
    return await asyncio.gather(*(_student(url, i) for i in range(SESSIONS)))


def test_eight_sessions_at_once_see_no_error_and_leave_the_shared_models_untouched(class_server):
    problems = run_async(_class(class_server))
    assert problems == [[]] * SESSIONS

    async def diagnostics() -> str:
        async with StreamlitSession(class_server) as s:
            r = await s.open("diagnostics")
        return " ".join(r.texts)

    report = run_async(diagnostics())
    models = int(re.search(r"(\d+) cached models;", report).group(1))
    assert models >= 2  # the sessions really looked at shared networks (a network and its twin)
    assert "0 hooks left on cached models" in report
    assert "0 cached models in training mode" in report
    assert "0 cached models changed since loading" in report


@pytest.mark.skipif(importlib.util.find_spec("explorer.engine.jobs") is None, reason="needs the job engine (issue 12)")
def test_eight_identical_start_presses_train_once(class_server):
    async def press(s: StreamlitSession) -> list[str]:
        await s.open("train")
        await s.set("train_preset", "Degradation")
        r = await s.click("train_start")
        return r.exceptions + r.errors

    async def run() -> tuple[list[list[str]], str]:
        sessions = [StreamlitSession(class_server, timeout=300) for _ in range(SESSIONS)]
        for s in sessions:
            await s.__aenter__()
        try:
            problems = await asyncio.gather(*(press(s) for s in sessions))
            jobs = {s.query().get("run") for s in sessions}  # the Train page links each session to its job
            for _ in range(30):  # the embedded cluster starts its worker with the first job
                async with StreamlitSession(class_server) as d:
                    report = " ".join((await d.open("diagnostics")).texts)
                if not re.search(r"\b0 training jobs started", report):
                    break
                await asyncio.sleep(2)
            await asyncio.sleep(10)  # time for a duplicate job, if there were one, to start too
            async with StreamlitSession(class_server) as d:
                report = " ".join((await d.open("diagnostics")).texts)
            for s in sessions:
                for key in [k for k in s.widgets if k.endswith("_stop")]:
                    await s.click(key)
        finally:
            for s in sessions:
                await s.__aexit__(None, None, None)
        return problems, report, jobs

    problems, report, jobs = run_async(run())
    assert problems == [[]] * SESSIONS
    assert len(jobs) == 1 and None not in jobs, jobs  # every press joined the same job
    assert re.search(r"\b1 training jobs started on the engine", report), report
