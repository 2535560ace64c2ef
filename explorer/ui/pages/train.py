"""Train: plain and residual networks in lock-step on the same batches, with live curves."""

import tempfile
from dataclasses import replace
from pathlib import Path

import streamlit as st

from explorer.datasets import DATASETS, SkippedFile, skip_summary
from explorer.runs import list_runs
from explorer.training import PRESET_MODELS, PRESETS
from explorer.ui import state
from explorer.ui.cache import ASSET_RUNS
from explorer.ui.training_view import current, history_charts, live_panel, runs_root, start_ui
from explorer.ui.widgets import network_ui

JOB_KEY = "train_live"
SKIPPED_NOTE = "train_skipped_note"
WHAT = {
    "degradation": "Degradation: plain and residual, 20 and 56 layers (about 2 minutes)",
    "quick": "Quick: Plain-20 against ResNet-20 (under a minute)",
    "custom": "The network in the sidebar and its twin",
}
DATASET_LABELS = {
    "shapes": "Shapes (built in, no download)",
    "cifar10": "CIFAR-10 (from ./data, or download)",
    "mnist": "MNIST (from ./data, or download)",
    "fashion-mnist": "Fashion-MNIST (from ./data, or download)",
    "upload": "Your own images (.zip of one folder per class)",
}

st.title("Train plain and residual networks side by side")
st.caption(
    "Every network sees the same batches in the same order, so their curves compare step by step. "
    "Watch the training loss: the degradation problem is about training, not test, error."
)
config = network_ui()

c1, c2 = st.columns([3, 2])
state.keep_valid(state.TRAIN_PRESET, list(WHAT), "degradation")
state.keep_valid(state.TRAIN_DATASET, list(DATASET_LABELS), "shapes")
what = c1.radio("What to train", list(WHAT), format_func=WHAT.get, key=state.TRAIN_PRESET)
dataset = c2.selectbox("Data", list(DATASET_LABELS), format_func=DATASET_LABELS.get, key=state.TRAIN_DATASET)
preset = PRESETS["quick" if what == "custom" else what]
steps = c2.slider("Steps", 20, 1000, value=preset.steps, step=10, key=f"{state.TRAIN_STEPS}_{what}")
zip_file = None
if dataset == "upload":
    zip_file = st.file_uploader(
        "A .zip with one folder per class (at most 20 classes)", type=["zip"], key="train_zip", max_upload_size=200
    )
download = (
    dataset in DATASETS
    and dataset != "shapes"
    and st.checkbox("Download the data if it is not in ./data", key="train_download")
)

configs = (
    list(PRESET_MODELS[what])
    if what != "custom"
    else [config.twin(), config]
    if config.residual
    else [config, config.twin()]
)
st.write("Networks: " + ", ".join(f"**{c.name}**" for c in configs))


def skipped_note(skipped: tuple[SkippedFile, ...]) -> str:
    """How many of the user's files were refused, and why."""
    if not skipped:
        return ""
    why = ", ".join(f"{n} {reason}" for reason, n in skip_summary(skipped).items())
    first = skipped[0]
    return (
        f"{len(skipped)} of your files were skipped ({why}); the rest are used. "
        f"For example, {first.name}: {first.message}."
    )


entry = current(JOB_KEY)
busy = entry is not None and entry[0].active
if st.button("Start training", key="train_start", type="primary", disabled=busy):
    train_config = replace(preset, steps=steps, dataset=dataset if dataset != "upload" else preset.dataset)
    data = None
    try:
        if dataset == "upload":
            if zip_file is None:
                raise ValueError("upload a .zip of your images first")
            tmp = Path(tempfile.mkdtemp(prefix="explorer-upload-")) / "images.zip"
            tmp.write_bytes(zip_file.getvalue())
            train_config = replace(train_config, dataset=str(tmp), train_size=None, eval_size=0, image_size=32)
        if dataset != "shapes":
            from explorer.training import load_train_data

            with st.spinner("Reading the data…"):
                data = load_train_data(train_config, download=download)
            st.session_state[SKIPPED_NOTE] = skipped_note(data[0].skipped)
        start_ui(JOB_KEY, WHAT[what].split(":")[0], configs, train_config, data)
        st.rerun()
    except (ValueError, FileNotFoundError, OSError, RuntimeError) as e:
        st.error(f"Could not start: {e}")

if st.session_state.get(SKIPPED_NOTE):
    st.warning(st.session_state[SKIPPED_NOTE])
live_panel(JOB_KEY)

st.header("Earlier runs")
runs = list_runs(runs_root()) + list_runs(ASSET_RUNS)
if not runs:
    st.caption("No saved runs yet: runs are saved when training ends.")
else:
    by_name = {}
    for r in runs:
        by_name.setdefault(r.name, r)  # a name in runs/ wins over the same name in assets/
    state.keep_valid(state.TRAIN_REOPEN, list(by_name), next(iter(by_name)))
    pick = st.selectbox(
        "Reopen a run",
        list(by_name),
        format_func=lambda n: f"{n} — {', '.join(by_name[n].model_configs)} — {by_name[n].history.step} steps",
        key=state.TRAIN_REOPEN,
    )
    history_charts(by_name[pick].history, "train_reopen_charts", shared=True)
state.write_url(*state.NETWORK, "preset", "dataset", *(("reopen",) if runs else ()))
