"""Train: plain and residual networks in lock-step on the same batches, with live curves.

Training runs as a job on the engine, not in this server: identical requests share one job, and
``/train?run=ID`` opens a live or finished run for everyone.
"""

from dataclasses import replace

import streamlit as st

from explorer import engine
from explorer.datasets import DATASETS
from explorer.runs import list_runs
from explorer.training import PRESET_MODELS, PRESETS
from explorer.ui import state
from explorer.ui.cache import ASSET_RUNS
from explorer.ui.training_view import busy, current, earlier_runs, history_charts, live_panel, open_run, start_ui
from explorer.ui.widgets import network_ui

JOB_KEY = "train_live"
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
if "run" in st.query_params and st.session_state.get("_train_link") != st.query_params["run"]:
    st.session_state["_train_link"] = st.query_params["run"]
    open_run(JOB_KEY, st.query_params["run"])
config = network_ui()

c1, c2 = st.columns([3, 2])
state.keep_valid(state.TRAIN_PRESET, list(WHAT), list(WHAT)[0])
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

if st.button("Start training", key="train_start", type="primary", disabled=busy(JOB_KEY)):
    train_config = replace(preset, steps=steps, dataset=dataset if dataset != "upload" else preset.dataset)
    data = {"download": download}
    try:
        if dataset == "upload":
            if zip_file is None:
                raise ValueError("upload a .zip of your images first")
            data["upload"] = zip_file.getvalue()
            train_config = replace(train_config, train_size=None, eval_size=0, image_size=32)
        job = start_ui(JOB_KEY, WHAT[what].split(":")[0], configs, train_config, **data)
        st.query_params["run"] = engine.job_id(job)
        st.session_state["_train_link"] = engine.job_id(job)
        st.rerun()
    except (ValueError, OSError) as e:
        st.error(f"Could not start: {e}")

if current(JOB_KEY) is not None:
    st.caption("This page's address opens this run for everyone: share it to let a class watch the same curves.")
live_panel(JOB_KEY)

st.header("Earlier runs")
runs = [(r, "") for r in earlier_runs()] + [(r, ", built in") for r in list_runs(ASSET_RUNS)]
if not runs:
    st.caption("No saved runs yet: runs are saved when training ends.")
else:
    labels = {}  # the run's name and date, never where it lies on the server
    for r, origin in runs:
        label = f"{r.name}, {r.updated or 'undated'}{origin} — {', '.join(r.model_configs)} — {r.history.step} steps"
        while label in labels:
            label += " (another)"
        labels[label] = r
    state.keep_valid(state.TRAIN_REOPEN, list(labels), next(iter(labels)))
    pick = st.selectbox("Reopen a run", list(labels), key=state.TRAIN_REOPEN)
    history_charts(labels[pick].history, "train_reopen_charts", shared=True)
state.write_url(*state.NETWORK, "preset", "dataset", *(("reopen",) if runs else ()))  # the engine adds "run"
