"""Train: plain and residual networks in lock-step on the same batches, with live curves.

Training runs as a job on the engine, not in this server: identical requests share one job, and
``/train?run=ID`` opens a live or finished run for everyone.
"""

from dataclasses import replace

import streamlit as st

from explorer.data.datasets import DATASETS
from explorer.data.upload_limits import ZIP_MB
from explorer.engine import jobs as engine
from explorer.engine import records as engine_records
from explorer.i18n import _
from explorer.training.presets import PRESET_MODELS, PRESETS
from explorer.training.runs import list_runs
from explorer.ui import state
from explorer.ui.caches.assets import ASSET_RUNS
from explorer.ui.job_view import engine_down_text
from explorer.ui.models_ui import checked_upload, hide_server_limit_ui
from explorer.ui.preact_sections import relu_place_section
from explorer.ui.training_view import (
    busy,
    current,
    earlier_runs,
    forget_failed,
    history_charts,
    live_panel,
    open_run,
    run_settings,
    start_ui,
)
from explorer.ui.widgets import network_ui

JOB_KEY = "train_live"
WHAT = {
    "degradation": _("Degradation: plain and residual, 20 and 56 layers (about 2 minutes)"),
    "quick": _("Quick: Plain-20 against ResNet-20 (under a minute)"),
    "preact": _(
        "Where the ReLU goes: ResNet-56, the 2015 block against the 2016 pre-activation block (about 2 minutes)"
    ),
    "custom": _("The network in the sidebar and its twin"),
}
RUN_TITLES = {
    "degradation": "Degradation",
    "quick": "Quick",
    "preact": "Where the ReLU goes",
    "custom": "The network in the sidebar and its twin",
}
PRESET_OF_TITLE = {title: preset for preset, title in RUN_TITLES.items()}
FROM_DATA = _("{name} (from ./data, or download)")
DATASET_LABELS = {
    "shapes": _("Shapes (built in, no download)"),
    "cifar10": FROM_DATA.format(name="CIFAR-10"),
    "mnist": FROM_DATA.format(name="MNIST"),
    "fashion-mnist": FROM_DATA.format(name="Fashion-MNIST"),
    "upload": _("Your own images (.zip of one folder per class)"),
}


def show_run_settings(job: str | None) -> None:
    """Set the form to the settings of the run a link opened: its preset, data and steps, and for a run of the
    sidebar's network, that network (its residual member: either member gives the same pair, and the same job)."""
    settings = run_settings(job) if job is not None else None
    what = PRESET_OF_TITLE.get(settings["title"]) if settings else None
    if what is None:  # a run made elsewhere (the CLI, an older title): the form keeps its choices
        return
    ss = st.session_state
    ss[state.TRAIN_PRESET] = what
    if settings.get("dataset") in DATASET_LABELS:
        ss[state.TRAIN_DATASET] = settings["dataset"]
    if settings.get("steps") and 20 <= settings["steps"] <= 1000:
        ss[f"{state.TRAIN_STEPS}_{what}"] = settings["steps"]
    configs = settings.get("configs") or []
    if what == "custom" and configs:
        net = next((c for c in configs if c.residual), configs[0])
        for key, value in zip(state.NETWORK_KEYS, (net.family, net.depth, net.residual, net.shortcut, net.width,
                                                   net.preact), strict=True):  # fmt: skip
            ss[key] = value


st.title(_("Train plain and residual networks side by side"))
st.caption(
    _(
        "Every network sees the same batches in the same order, so their curves compare step by step. "
        "Watch the training loss: the degradation problem is about training, not test, error."
    )
)

if "run" in st.query_params and st.session_state.get("_train_link") != st.query_params["run"]:
    st.session_state["_train_link"] = st.query_params["run"]
    st.session_state["_train_link_known"] = open_run(JOB_KEY, st.query_params["run"])
    show_run_settings(current(JOB_KEY))
if "run" in st.query_params and not st.session_state.get("_train_link_known", True):
    st.warning(
        _(
            "This link names no training run on this server: it may be cut short or mistyped, or the run was made "
            "on another server. Choose what to train below and press Start, or reopen an earlier run."
        )
    )
config = network_ui()

c1, c2 = st.columns([3, 2])
state.keep_valid(state.TRAIN_PRESET, list(WHAT), list(WHAT)[0])
state.keep_valid(state.TRAIN_DATASET, list(DATASET_LABELS), "shapes")
forget = {"on_change": forget_failed, "args": (JOB_KEY,)}  # a failure's message goes with the choice that caused it
what = c1.radio(_("What to train"), list(WHAT), format_func=WHAT.get, key=state.TRAIN_PRESET, **forget)
dataset = c2.selectbox(
    _("Data"), list(DATASET_LABELS), format_func=DATASET_LABELS.get, key=state.TRAIN_DATASET, **forget
)
preset = PRESETS["quick" if what == "custom" else what]
st.session_state.setdefault(f"{state.TRAIN_STEPS}_{what}", preset.steps)  # a run's link may have set it
steps = c2.slider(_("Steps"), 20, 1000, step=10, key=f"{state.TRAIN_STEPS}_{what}")
zip_file = None
if dataset == "upload":
    zip_file = st.file_uploader(
        _("A .zip with one folder per class (at most 20 classes, up to {mb} MB)").format(mb=ZIP_MB),
        type=["zip"],
        key="train_zip",
        **forget,
    )
    hide_server_limit_ui()
    zip_file = checked_upload(zip_file, "zip")
download = (
    dataset in DATASETS
    and dataset != "shapes"
    and st.checkbox(_("Download the data if it is not in ./data"), key="train_download", **forget)
)

configs = (
    list(PRESET_MODELS[what])
    if what != "custom"
    else [config.twin(), config]
    if config.residual
    else [config, config.twin()]
)
st.write(_("Networks: {names}").format(names=", ".join(f"**{c.name}**" for c in configs)))
if what == "preact":
    with st.expander(_("Where the ReLU goes: the result on three seeds"), expanded=True):
        relu_place_section("train")

if st.button(_("Start training"), key="train_start", type="primary", disabled=busy(JOB_KEY)):
    train_config = replace(preset, steps=steps, dataset=dataset if dataset != "upload" else preset.dataset)
    data = {"download": download}
    try:
        if dataset == "upload":
            if zip_file is None:
                raise ValueError(_("upload a .zip of your images first"))
            data["upload"], data["upload_name"] = zip_file.getvalue(), zip_file.name
            train_config = replace(train_config, train_size=None, eval_size=0, image_size=32)
        job = start_ui(JOB_KEY, RUN_TITLES[what], configs, train_config, **data)
        st.query_params["run"] = engine.job_id(job)
        st.session_state["_train_link"] = engine.job_id(job)
        st.session_state["_train_link_known"] = True  # the address now names this run
        st.rerun()
    except engine_records.EngineUnavailable as e:
        st.error(engine_down_text(e))
    except (ValueError, OSError) as e:
        st.error(_("Could not start: {error}").format(error=e))

if current(JOB_KEY) is not None:
    st.caption(_("This page's address opens this run for everyone: share it to let a class watch the same curves."))
live_panel(JOB_KEY)

st.header(_("Earlier runs"))
runs = [(r, "") for r in earlier_runs()] + [(r, ", built in") for r in list_runs(ASSET_RUNS)]
if not runs:
    st.caption(_("No saved runs yet: runs are saved when training ends."))
else:
    labels, shown = {}, {}  # the run's name and date, never where it lies on the server; English keys for links
    for r, origin in runs:
        label = f"{r.name}, {r.updated or 'undated'}{origin} — {', '.join(r.model_configs)} — {r.history.step} steps"
        text = _("{name}, {date}{origin} — {networks} — {steps} steps").format(
            name=r.name, date=r.updated or _("undated"), origin=_(", built in") if origin else "",
            networks=", ".join(r.model_configs), steps=r.history.step,
        )  # fmt: skip
        while label in labels:
            label += " (another)"
            text += " " + _("(another)")
        labels[label], shown[label] = r, text
    state.keep_valid(state.TRAIN_REOPEN, list(labels), next(iter(labels)))
    pick = st.selectbox(_("Reopen a run"), list(labels), key=state.TRAIN_REOPEN, format_func=shown.get)
    history_charts(labels[pick].history, "train_reopen_charts", shared=True)
state.write_url(*state.NETWORK, "preset", "dataset", *(("reopen",) if runs else ()))  # the engine adds "run"
