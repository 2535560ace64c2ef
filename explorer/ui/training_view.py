"""The live training panel shared by the Train and Experiments pages: queue, progress, curves, stop."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import streamlit as st

from explorer import model_cards
from explorer.charts.training import accuracy_curves, grad_norm_heatmap, loss_curves
from explorer.i18n import _, ngettext
from explorer.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, Job
from explorer.live import LiveRun, start_training
from explorer.models import ResNetConfig
from explorer.recorders import History
from explorer.training import TrainConfig
from explorer.ui import state
from explorer.ui.cache import job_queue
from explorer.ui.models_ui import session_models
from explorer.ui.widgets import show_chart

POLL_S = 2.0  # seconds between redraws of a running job: each redraw takes CPU from training


def runs_root() -> Path:
    """Where this server saves runs: $EXPLORER_RUNS or ./runs."""
    return Path(os.environ.get("EXPLORER_RUNS", "runs"))


def _session_id() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx else ""


def start_ui(key: str, title: str, configs: list[ResNetConfig], train_config: TrainConfig, data=None) -> None:
    """Queue a run and remember it under ``key`` in this session."""
    job, live = start_training(job_queue(), title, configs, train_config, runs_root(), _session_id(), data)
    st.session_state[key] = (job, live)


def current(key: str) -> tuple[Job, LiveRun] | None:
    return st.session_state.get(key)


def history_charts(history: History, key: str, heatmap_choice: bool = True) -> None:
    """Loss and accuracy curves, and the gradient-norm heat-map of one chosen network.

    While training runs, the page redraws these every couple of seconds on the same two cores that
    train, so the heat-map (the heaviest figure) waits until training ends.
    """
    if not history.models or not any(m.step for m in history.models.values()):
        return
    c1, c2 = st.columns(2)
    with c1:
        show_chart(loss_curves(history), key=f"{key}_loss")
    with c2:
        show_chart(accuracy_curves(history), key=f"{key}_acc")
    if heatmap_choice:
        names = list(history.models)
        pick = st.selectbox(_("Gradient norms of"), names, index=len(names) - 1, key=f"{key}_heat_pick")
        show_chart(grad_norm_heatmap(history.models[pick]), key=f"{key}_heat")


def _status_line(job: Job, live: LiveRun) -> None:
    queue = job_queue()
    if job.status == QUEUED:
        ahead = queue.position(job)
        waiting = ngettext(
            "Waiting for the CPU: {n} training job ahead of yours.",
            "Waiting for the CPU: {n} training jobs ahead of yours.",
            ahead,
        ).format(n=ahead)
        st.info(waiting + " " + _("One job trains at a time on this server."))
    elif job.status == RUNNING:
        p = job.progress
        if p is None:
            phases = {"waiting": _("Waiting"), "loading data": _("Loading data"), "training": _("Training")}
            st.progress(0.0, text=phases.get(live.phase, live.phase.capitalize()) + "…")
        else:
            st.progress(
                min(p.step / max(p.total, 1), 1.0),
                text=_("step {step} of {total} · {rate:,.0f} images/s · about {eta:.0f} s left").format(
                    step=p.step, total=p.total, rate=p.images_per_s, eta=p.eta_s
                ),
            )
    elif job.status == DONE:
        secs = live.history.wall_s
        st.success(
            _("Finished {steps} steps in {secs:.0f} s.").format(steps=live.history.step, secs=secs)
            + (" " + _("Saved to `{path}`.").format(path=live.run_dir) if live.run_dir else "")
        )
    elif job.status == CANCELLED:
        st.warning(_("Stopped after {steps} steps.").format(steps=live.history.step))
    elif job.status == FAILED:
        st.error(_("Training failed: {error}").format(error=job.error))
    for name, h in live.history.models.items():
        if h.stopped_reason:
            text = _("{name} stopped: {reason}. The other networks went on.")
            st.warning(text.format(name=name, reason=h.stopped_reason))


def live_panel(key: str) -> None:
    """The panel for this session's run under ``key``: polls while the job is active."""
    entry = current(key)
    if entry is None:
        return
    job, live = entry
    active = job.active

    @st.fragment(run_every=POLL_S if active else None)
    def panel() -> None:
        state.apply_language()  # a fragment rerun does not run app.py, which sets it for full runs
        job, live = current(key)
        c1, c2 = st.columns([5, 1])
        with c1:
            _status_line(job, live)
        with c2:
            if job.active and st.button(_("Stop"), key=f"{key}_stop", type="primary", width="stretch"):
                job.cancel()
        history_charts(live.history, key, heatmap_choice=not job.active)
        if job.active:
            st.caption(
                _("The gradient-norm heat-map appears when training ends (drawing it live would slow training).")
            )
        if active and not job.active:
            st.rerun(scope="app")  # the job ended: let the whole page show the results

    panel()
    if not job.active and live.models and job.status in (DONE, CANCELLED):
        _register(live)
        downloads_ui(live, key)


def _register(live: LiveRun) -> None:
    """Make the trained networks available to the Inside, Gradients and Explain pages."""
    models = session_models()
    for name, model in live.models.items():
        label = f"{name} ({live.title}, {live.history.step} steps)"
        if label not in models:
            card = model_cards.card_for_dataset(model.config, live.info, model_cards.SESSION)
            card = model_cards.ModelCard(
                label, card.config, model_cards.SESSION, card.classes, card.mean, card.std, card.image_size
            )
            models[label] = (card, model.eval())


def downloads_ui(live: LiveRun, key: str) -> None:
    """Metrics as CSV and the checkpoints as a zip of state_dicts."""
    if live.run_dir is None:
        return
    run_dir = Path(live.run_dir)
    c1, c2 = st.columns(2)
    csv = run_dir / "metrics.csv"
    if csv.is_file():
        c1.download_button(
            _("Download metrics (CSV)"),
            csv.read_bytes(),
            file_name=f"{run_dir.name}-metrics.csv",
            mime="text/csv",
            key=f"{key}_csv",
        )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted((run_dir / "checkpoints").glob("*.pt")):
            zf.write(f, f"{run_dir.name}/{f.name}")
        zf.write(run_dir / "config.json", f"{run_dir.name}/config.json")
    c2.download_button(
        _("Download checkpoints (zip of state_dicts)"),
        buf.getvalue(),
        file_name=f"{run_dir.name}-checkpoints.zip",
        mime="application/zip",
        key=f"{key}_ckpt",
    )
