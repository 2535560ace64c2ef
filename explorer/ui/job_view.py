"""A panel for any job on the engine (lesion study, randomisation check, sweeps): place, progress, a real Stop.

The page submits an ``engine.Job`` (made by ``explorer.tasks.training`` or ``explorer.tasks.experiments``) and keeps its key under a session-state key; this
panel polls the scheduler with ``@st.fragment(run_every=...)`` and returns the job's result once it has one. Stop
sets the job's stop event on the scheduler: the worker ends the job before its next step and returns what it has.
Phases and messages built on workers arrive as ``i18n.message`` pairs and are shown in the session's language.
"""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st

from explorer.engine import records as engine_records
from explorer.i18n import _, ngettext, translate
from explorer.ui import state

POLL_S = 1.0
log = logging.getLogger(__name__)


def engine_down_text(error: Exception) -> str:
    """What a page says when the job engine does not answer: plain words in the session's language. The details
    (the scheduler's address, how to start one) are for whoever runs the server: they go to the server's log and
    to the CLI (``python -m explorer jobs``), never to a student's page."""
    log.warning("the job engine cannot be used: %s", error)
    return _(
        "The job engine of this server is not answering right now, so nothing could be started or followed. "
        "Try again in a minute; if it keeps happening, tell the person who runs this server."
    )


def submit_ui(state_key: str, job: engine_records.Job, title: str | None = None) -> None:
    """Submit (or join) ``job`` and remember its key under ``state_key`` in this session.

    ``title``: what ``python -m explorer jobs`` lists it as (default: the job's own).
    """
    from explorer.engine import jobs as engine  # Dask: loaded by the first page that runs a job, not by every page

    if title:
        job = engine_records.Job(job.kind, job.fn, job.spec, job.id, title)
    try:
        engine.submit(job)
    except engine_records.EngineUnavailable as e:
        st.error(engine_down_text(e))
        return
    st.session_state[state_key] = job.key


def waiting_text(position: int) -> str:
    """Where a queued job stands, in the session's language."""
    return ngettext(
        "Waiting for a free worker: {n} job ahead of this one.",
        "Waiting for a free worker: {n} jobs ahead of this one.",
        position,
    ).format(n=position)


def phase_text(phase) -> str:
    """A job's phase (``explorer.tasks.training``, ``explorer.tasks.experiments``: a name, or an ``i18n.message`` pair) in the session's language."""
    if phase and not isinstance(phase, str):
        return translate(phase)
    phases = {"starting": _("Starting"), "loading data": _("Loading data"), "training": _("Training")}
    phases |= {"saving": _("Saving"), "finished": _("Finished")}
    return phases.get(phase or "starting", (phase or "").capitalize())


def status_ui(s: engine_records.JobStatus, what: str) -> None:
    """One line saying where a job stands."""
    if s.state == engine_records.QUEUED:
        st.info(waiting_text(s.position))
    elif s.state == engine_records.RUNNING:
        text = f"{what}: {phase_text(s.phase)}"
        if s.total:
            text += " · " + _("step {i} of {n}").format(i=s.step, n=s.total)
        st.progress(min(s.step / s.total, 1.0) if s.total else 0.0, text=text)
    elif s.state == engine_records.LOST:
        st.warning(s.message)
    elif s.state == engine_records.FAILED:
        st.error(_("{what} failed: {message}").format(what=what, message=s.message))


def job_panel(state_key: str, what: str) -> Any | None:
    """Progress and Stop for this session's job under ``state_key``; its result once finished, else None."""
    job = st.session_state.get(state_key)
    if job is None:
        return None
    try:
        return _panel(job, state_key, what)
    except engine_records.EngineUnavailable as e:
        st.error(engine_down_text(e))
        return None


def _panel(job: str, state_key: str, what: str) -> Any | None:
    from explorer.engine import jobs as engine

    polling = engine.status(job).active

    @st.fragment(run_every=POLL_S if polling else None)
    def panel() -> None:
        state.apply_language()  # a fragment rerun does not run app.py, which sets it for full runs
        s = engine.status(job)
        c1, c2 = st.columns([5, 1])
        with c1:
            status_ui(s, what)
        with c2:
            if s.active and st.button(_("Stop"), key=f"{state_key}_stop", width="stretch"):
                engine.stop(job)
        if s.active:
            st.caption(_("Stop ends the job after its current step and shows what it has done."))
        elif polling:
            st.rerun(scope="app")  # finished: let the page draw the result

    panel()
    result = engine.result(job)
    if result is not None and engine.status(job).state == engine_records.STOPPED:
        st.caption(_("Stopped early: showing what was done."))
    return result
