"""The only place that uses st.cache_*: shared, read-only models and results keyed by frozen configs.

Cached models are shared by every session: callers never train, re-randomise or switch them; views
that need a switch work on a copy.
"""

import streamlit as st

from explorer.jobs import JobQueue
from explorer.models import ResNet, ResNetConfig, build_resnet
from explorer.summary import Summary, summarize_config


@st.cache_data(show_spinner="Counting parameters and multiply-accumulates…", max_entries=64)
def cached_summary(config: ResNetConfig, input_size: int | None = None) -> Summary:
    return summarize_config(config, input_size)


@st.cache_resource(max_entries=16, show_spinner="Building the network…")
def cached_model(config: ResNetConfig, seed: int = 0) -> ResNet:
    return build_resnet(config, seed=seed).eval()


@st.cache_resource
def job_queue() -> JobQueue:
    """One queue per server: one training job at a time, because the CPU is shared."""
    return JobQueue()
