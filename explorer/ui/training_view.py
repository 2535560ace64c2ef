"""The live training panel shared by the Train and Experiments pages: submit to the engine, poll, stop.

Training runs as a job on the engine (``explorer.engine.jobs``), never in the web server. A session keeps only
the job's key; everything it shows comes from the scheduler (the latest snapshot and the curve's new points,
read once per server process for all its sessions) or the run's folder (results, ``explorer.training.runs``), so every
session that presses Start on the same thing, or opens ``/train?run=ID``, watches the same run.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import streamlit as st

from explorer.charts import spec
from explorer.charts.training import grad_norm_heatmap, training_curves_spec
from explorer.data.base import SkippedFile
from explorer.data.folder import skip_reasons
from explorer.engine import jobs as engine
from explorer.engine import records as engine_records
from explorer.i18n import _, translate, translate_all
from explorer.interpret import model_cards
from explorer.models.config import ResNetConfig
from explorer.tasks import training as tasks
from explorer.training import runs
from explorer.training.config import TrainConfig
from explorer.training.history import History
from explorer.training.runs import Run, list_runs, load_resumable
from explorer.ui import state
from explorer.ui.caches.results import figure
from explorer.ui.job_view import engine_down_text, phase_text, waiting_text
from explorer.ui.models_ui import session_models
from explorer.ui.widgets import show_chart

POLL_S = 2.0  # seconds between redraws of a running job


def runs_root() -> Path:
    """Where this server saves runs: $EXPLORER_RUNS or ./runs."""
    return Path(os.environ.get("EXPLORER_RUNS", "runs"))


def start_ui(key: str, title: str, configs: list[ResNetConfig], train_config: TrainConfig, **data) -> str:
    """Submit a training job (or join the identical one) and remember its key under ``key``.

    ``data``: ``upload`` (zip bytes), ``upload_name`` (its file name), ``download`` (let the worker fetch a
    torchvision dataset).
    """
    job = tasks.training_job(title, configs, train_config, runs_root().resolve(), **data)
    st.session_state[key] = job.key
    run = finished_run(job.key)
    if run is None or run.history.step < run.train.steps:  # new, or stopped: go on from its checkpoint
        engine.submit(job)
    return job.key


def open_run(key: str, run_id: str) -> bool:
    """Watch the run a link names (``?run=ID``) in this session; False (and nothing to watch) when neither the
    engine nor this server's runs know that id."""
    st.session_state.pop(key, None)
    if not run_id or len(run_id) != 16 or any(c not in "0123456789abcdef" for c in run_id):
        return False
    job = f"{engine.PREFIX}train-{run_id}"
    if run_dir_of(job) is None:
        try:
            if engine.status(job).state is None:
                return False
        except engine_records.EngineUnavailable:
            pass  # the panel says why
    st.session_state[key] = job
    return True


def forget_failed(key: str) -> None:
    """Let go of this session's job under ``key`` if it failed: the user has changed a choice that caused it,
    so its message no longer stands (a widget's ``on_change``)."""
    job = current(key)
    try:
        failed = job is not None and engine.status(job).state == engine.FAILED
    except engine_records.EngineUnavailable:
        return
    if failed:
        st.session_state.pop(key, None)
        st.query_params.pop("run", None)


def run_settings(job: str) -> dict | None:
    """What the form needs to show job ``job``'s own settings: its ``title`` (the preset's run title), and where
    known its ``dataset``, ``steps`` and ``configs``. Read from the run's folder on this server; a run that has
    saved nothing yet gives what the engine holds (title and steps). None when neither knows the job."""
    path = run_dir_of(job)
    run = load_resumable(path) if path is not None else None
    if run is not None:
        return {
            "title": run.name,
            "dataset": run.train.dataset,
            "steps": run.train.steps,
            "configs": list(run.model_configs.values()),
        }
    try:
        s = engine.status(job)
    except engine_records.EngineUnavailable:
        return None
    return {"title": s.title, "steps": s.total or None} if s.state is not None else None


def current(key: str) -> str | None:
    """This session's job key under ``key``, or None."""
    return st.session_state.get(key)


def busy(key: str) -> bool:
    """Whether this session's job under ``key`` is queued or running (False if the engine is out of reach)."""
    job = current(key)
    try:
        return job is not None and engine.status(job).active
    except engine_records.EngineUnavailable:
        return False  # the panel says why


def run_dir_of(job: str) -> Path | None:
    """The folder of job ``job``'s run on this server, if it has been written."""
    return runs.find_job_run(runs_root(), engine.job_id(job))


def finished_run(job: str) -> Run | None:
    """The run a finished (or stopped) job saved on this server, or None."""
    path = run_dir_of(job)
    run = load_resumable(path) if path is not None else None
    return run if run is not None and run.history.finished else None


def skipped_note(skipped: tuple[SkippedFile, ...]) -> str:
    """How many of the user's files were refused, and why."""
    if not skipped:
        return ""
    why = translate_all(skip_reasons(skipped))
    first = skipped[0]
    text = _("{n} of your files were skipped ({why}); the rest are used. For example, {name}: {message}.")
    return text.format(n=len(skipped), why=why, name=first.name, message=translate(first.text or first.message))


def history_charts(history: History, key: str, heatmap_choice: bool = True, shared: bool = False) -> None:
    """Loss and accuracy curves (one figure, one legend), and the gradient-norm heat-map of one chosen network.

    ``shared``: a finished run every student sees (precomputed or reopened): its figures are built once
    for the class. A live run's history changes at every redraw, so it is drawn directly.
    """
    chart = (lambda build, *args: figure(build, *args)) if shared else (lambda build, *args: spec.as_dict(build(*args)))
    if not history.models or not any(m.step for m in history.models.values()):
        return
    show_chart(chart(training_curves_spec, history), key=f"{key}_curves")  # one legend for loss and accuracy
    if heatmap_choice and all(m.grad_norms for m in history.models.values()):
        names = list(history.models)
        pick = st.selectbox(_("Gradient norms of"), names, index=len(names) - 1, key=f"{key}_heat_pick")
        show_chart(chart(grad_norm_heatmap, history.models[pick]), key=f"{key}_heat")


def _status_line(s: engine.JobStatus) -> None:
    snap = s.snapshot
    if s.state == engine.QUEUED:
        st.info(waiting_text(s.position) + " " + _("Each worker trains one job at a time."))
    elif s.state == engine.RUNNING:
        if s.phase != "training" or not s.total:
            st.progress(0.0, text=phase_text(s.phase) + "…")
        else:
            st.progress(
                min(s.step / max(s.total, 1), 1.0),
                text=_("step {step} of {total} · {rate:,.0f} images/s · about {eta:.0f} s left").format(
                    step=s.step, total=s.total, rate=s.images_per_s, eta=s.eta_s
                ),
            )
        if s.restarts:
            st.caption(
                _("The worker running this job was lost at step {step}; another worker took it over.").format(
                    step=s.restarts[-1]["step"]
                )
            )
        if snap.get("resumed_from"):
            st.caption(
                _("Resumed from the checkpoint at step {resumed_from}.").format(resumed_from=snap["resumed_from"])
            )
    elif s.state == engine.LOST:
        st.warning(s.message)
    elif s.state == engine.FAILED:
        st.error(_("Training failed: {message}").format(message=s.message))
    elif s.state is None:
        st.info(_("No training job with this id is running on this server."))
    if snap.get("skipped"):
        st.warning(skipped_note(tuple(SkippedFile(*entry) for entry in snap["skipped"])))


def live_panel(key: str) -> Run | None:
    """The panel for this session's job under ``key``; returns its run once the job has ended and saved it."""
    job = current(key)
    if job is None:
        return None
    try:
        run = _live(job, key)
    except engine_records.EngineUnavailable as e:
        st.error(engine_down_text(e))
        return None
    if run is None:
        return None
    _run_summary(run)
    history_charts(run.history, key)
    _register(run)
    downloads_ui(run, key)
    return run


def _live(job: str, key: str) -> Run | None:
    """Poll job ``job`` while it is active; its run once saved.

    The engine is asked first: a stopped run that anyone has started again shows its new execution, not the
    run its folder still holds from the stop. A stopped run keeps being watched, so that its page follows the
    job whoever presses Start.
    """
    active = engine.status(job).active
    run = None if active else finished_run(job)
    if run is not None and run.history.stopped_reason == "stopped":
        _watch_restart(job)
    if run is None:
        started_active = active

        @st.fragment(run_every=POLL_S if started_active else None)
        def panel() -> None:
            state.apply_language()  # a fragment rerun does not run app.py, which sets it for full runs
            s = engine.status(job)
            c1, c2 = st.columns([5, 1])
            with c1:
                _status_line(s)
            with c2:
                if s.active and st.button(_("Stop"), key=f"{key}_stop", type="primary", width="stretch"):
                    engine.stop(job)
                    st.toast(_("Stopping after the current step (for everyone watching this run)."))
            if s.state in (engine.RUNNING, engine.LOST) and s.snapshot.get("models"):
                history_charts(tasks.live_history(s.snapshot, engine.points(job)), key, heatmap_choice=False)
            if s.active:
                st.caption(
                    _(
                        "Stop ends this run for everyone watching it; the steps so far are saved, and Start goes on "
                        "from there. The gradient-norm heat-map appears when training ends."
                    )
                )
            elif started_active:
                st.rerun(scope="app")  # the job ended: let the whole page show the results

        panel()
        run = None if active else _save_result(job)  # while it runs, the folder may hold the stopped run
    return run


def _watch_restart(job: str) -> None:
    """While a stopped run is shown, ask the engine every POLL_S whether its job runs again; redraw if so."""

    @st.fragment(run_every=POLL_S)
    def watch() -> None:
        if engine.status(job).active:
            st.rerun(scope="app")

    watch()


def _save_result(job: str) -> Run | None:
    """A finished job's run: from this server's disk, or written here from the job's result (another machine)."""
    run = finished_run(job)
    if run is None:
        result = engine.result(job)
        if result is None:
            return None
        runs.save_result(result, runs_root())
        run = finished_run(job)
    engine.release(job)  # the run folder keeps the results: the scheduler forgets the job
    return run


def _run_summary(run: Run) -> None:
    h = run.history
    if h.stopped_reason == "stopped":
        st.warning(
            _("Stopped after {step} of {steps} steps. Press Start again to go on from step {step}.").format(
                step=h.step, steps=run.train.steps
            )
        )
    else:
        st.success(
            _("Finished {step} steps in {wall_s:.0f} s of training. Saved as run “{name}”.").format(
                step=h.step, wall_s=h.wall_s, name=run.path.name
            )
        )
    for name, m in h.models.items():
        if m.stopped_reason:
            st.warning(
                _("{name} stopped: {reason}. The other networks went on.").format(name=name, reason=m.stopped_reason)
            )


def _register(run: Run) -> None:
    """Make the trained networks available to the Inside, Gradients and Explain pages."""
    models = session_models()
    if run.dataset is None:
        return
    todo = [n for n in run.model_configs if f"{n} ({run.name}, {run.history.step} steps)" not in models]
    if not todo:
        return
    loaded = run.load_models()
    for name in todo:
        label = f"{name} ({run.name}, {run.history.step} steps)"
        card = model_cards.card_for_dataset(run.model_configs[name], run.dataset, model_cards.SESSION)
        card = model_cards.ModelCard(
            label, card.config, model_cards.SESSION, card.classes, card.mean, card.std, card.image_size
        )
        models[label] = (card, loaded[name].eval())


def downloads_ui(run: Run, key: str) -> None:
    """Metrics as CSV and the checkpoints as a zip of state_dicts."""
    run_dir = Path(run.path)
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


def earlier_runs() -> list[Run]:
    """Runs saved on this server, newest first."""
    return list_runs(runs_root())
