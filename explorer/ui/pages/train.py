"""Train: plain and residual networks in lock-step on the same batches, with live curves."""

import tempfile
from dataclasses import replace
from pathlib import Path

import streamlit as st

from explorer.datasets import DATASETS, SkippedFile, skip_summary
from explorer.i18n import _
from explorer.runs import list_runs
from explorer.training import PRESET_MODELS, PRESETS
from explorer.ui import state
from explorer.ui.cache import ASSET_RUNS
from explorer.ui.training_view import current, history_charts, live_panel, runs_root, start_ui
from explorer.ui.widgets import network_ui

JOB_KEY = "train_live"
SKIPPED_NOTE = "train_skipped_note"
WHAT = {
    "degradation": _("Degradation: plain and residual, 20 and 56 layers (about 2 minutes)"),
    "quick": _("Quick: Plain-20 against ResNet-20 (under a minute)"),
    "custom": _("The network in the sidebar and its twin"),
}
RUN_TITLES = {"degradation": "Degradation", "quick": "Quick", "custom": "The network in the sidebar and its twin"}
FROM_DATA = _("{name} (from ./data, or download)")
DATASET_LABELS = {
    "shapes": _("Shapes (built in, no download)"),
    "cifar10": FROM_DATA.format(name="CIFAR-10"),
    "mnist": FROM_DATA.format(name="MNIST"),
    "fashion-mnist": FROM_DATA.format(name="Fashion-MNIST"),
    "upload": _("Your own images (.zip of one folder per class)"),
}

st.title(_("Train plain and residual networks side by side"))
st.caption(
    _(
        "Every network sees the same batches in the same order, so their curves compare step by step. "
        "Watch the training loss: the degradation problem is about training, not test, error."
    )
)
config = network_ui()

c1, c2 = st.columns([3, 2])
what = c1.radio(_("What to train"), list(WHAT), format_func=WHAT.get, key=state.TRAIN_PRESET)
dataset = c2.selectbox(_("Data"), list(DATASET_LABELS), format_func=DATASET_LABELS.get, key=state.TRAIN_DATASET)
preset = PRESETS["quick" if what == "custom" else what]
steps = c2.slider(_("Steps"), 20, 1000, value=preset.steps, step=10, key=f"{state.TRAIN_STEPS}_{what}")
zip_file = None
if dataset == "upload":
    zip_file = st.file_uploader(
        _("A .zip with one folder per class (at most 20 classes)"), type=["zip"], key="train_zip", max_upload_size=200
    )
download = (
    dataset in DATASETS
    and dataset != "shapes"
    and st.checkbox(_("Download the data if it is not in ./data"), key="train_download")
)

configs = (
    list(PRESET_MODELS[what])
    if what != "custom"
    else [config.twin(), config]
    if config.residual
    else [config, config.twin()]
)
st.write(_("Networks: {names}").format(names=", ".join(f"**{c.name}**" for c in configs)))


def skipped_note(skipped: tuple[SkippedFile, ...]) -> str:
    """How many of the user's files were refused, and why."""
    if not skipped:
        return ""
    why = ", ".join(f"{n} {_(reason)}" for reason, n in skip_summary(skipped).items())
    first = skipped[0]
    text = _("{n} of your files were skipped ({why}); the rest are used. For example, {name}: {message}.")
    return text.format(n=len(skipped), why=why, name=first.name, message=first.message)


entry = current(JOB_KEY)
busy = entry is not None and entry[0].active
if st.button(_("Start training"), key="train_start", type="primary", disabled=busy):
    train_config = replace(preset, steps=steps, dataset=dataset if dataset != "upload" else preset.dataset)
    data = None
    try:
        if dataset == "upload":
            if zip_file is None:
                raise ValueError(_("upload a .zip of your images first"))
            tmp = Path(tempfile.mkdtemp(prefix="explorer-upload-")) / "images.zip"
            tmp.write_bytes(zip_file.getvalue())
            train_config = replace(train_config, dataset=str(tmp), train_size=None, eval_size=0, image_size=32)
        if dataset != "shapes":
            from explorer.training import load_train_data

            with st.spinner(_("Reading the data…")):
                data = load_train_data(train_config, download=download)
            st.session_state[SKIPPED_NOTE] = skipped_note(data[0].skipped)
        start_ui(JOB_KEY, RUN_TITLES[what], configs, train_config, data)
        st.rerun()
    except (ValueError, FileNotFoundError, OSError, RuntimeError) as e:
        st.error(_("Could not start: {error}").format(error=e))

if st.session_state.get(SKIPPED_NOTE):
    st.warning(st.session_state[SKIPPED_NOTE])
live_panel(JOB_KEY)

st.header(_("Earlier runs"))
runs = list_runs(runs_root()) + list_runs(ASSET_RUNS)
if not runs:
    st.caption(_("No saved runs yet: runs are saved when training ends."))
else:
    text = _("{name} — {networks} — {steps} steps ({path})")
    labels = {
        text.format(name=r.name, networks=", ".join(r.model_configs), steps=r.history.step, path=r.path): r
        for r in runs
    }
    pick = st.selectbox(_("Reopen a run"), list(labels), key="train_reopen")
    history_charts(labels[pick].history, "train_reopen_charts")
