"""A panel for any job on the engine (lesion study, randomisation check, sweeps): place, progress, a real Stop.

The page submits a job and keeps its key under a session-state key; this panel polls the scheduler with
``@st.fragment(run_every=...)`` and returns the job's result once it has one. Stop sets the job's flag on
the scheduler: the worker ends the job before its next step and returns what it has.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from explorer import engine

POLL_S = 1.0


def submit_ui(state_key: str, kind: str, job: str, spec: dict, title: str) -> None:
    """Submit (or join) job ``job`` and remember it under ``state_key`` in this session."""
    try:
        engine.submit(kind, job, spec, title)
    except engine.EngineUnavailable as e:
        st.error(f"Could not start: {e}.")
        return
    st.session_state[state_key] = job


def status_ui(s: engine.JobStatus, what: str) -> None:
    """One line saying where a job stands."""
    if s.state == engine.QUEUED:
        st.info(f"Waiting for a free worker: {s.position} job{'s' if s.position != 1 else ''} ahead of this one.")
    elif s.state == engine.RUNNING:
        text = f"{what}: {s.phase or 'starting'}" + (f" · step {s.step} of {s.total}" if s.total else "")
        st.progress(min(s.step / s.total, 1.0) if s.total else 0.0, text=text)
    elif s.state == engine.LOST:
        st.warning(s.message)
    elif s.state == engine.FAILED:
        st.error(f"{what} failed: {s.message}")


def job_panel(state_key: str, what: str) -> Any | None:
    """Progress and Stop for this session's job under ``state_key``; its result once finished, else None."""
    job = st.session_state.get(state_key)
    if job is None:
        return None
    try:
        return _panel(job, state_key, what)
    except engine.EngineUnavailable as e:
        st.error(f"{what} is not available right now: {e}.")
        return None


def _panel(job: str, state_key: str, what: str) -> Any | None:
    polling = engine.status(job).active

    @st.fragment(run_every=POLL_S if polling else None)
    def panel() -> None:
        s = engine.status(job)
        c1, c2 = st.columns([5, 1])
        with c1:
            status_ui(s, what)
        with c2:
            if s.active and st.button("Stop", key=f"{state_key}_stop", width="stretch"):
                engine.stop(job)
        if s.active:
            st.caption("Stop ends the job after its current step and shows what it has done.")
        elif polling:
            st.rerun(scope="app")  # finished: let the page draw the result

    panel()
    result = engine.result(job)
    if result is not None and engine.status(job).state == engine.CANCELLED:
        st.caption("Stopped early: showing what was done.")
    return result
