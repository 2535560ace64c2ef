"""The only place that uses st.cache_*: shared, read-only results keyed by frozen configs."""

import streamlit as st

from explorer.models import ResNetConfig, build_resnet
from explorer.summary import Summary, summarize


@st.cache_data(show_spinner="Counting parameters and multiply-accumulates…", max_entries=64)
def cached_summary(config: ResNetConfig, input_size: int | None = None) -> Summary:
    return summarize(build_resnet(config), input_size)
