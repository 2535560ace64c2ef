"""Build: pick a network, see its summary and layer table."""

import pandas as pd
import streamlit as st

from explorer.models import CIFAR_PRESETS, IMAGENET_BLOCKS, ResNetConfig
from explorer.ui.cache import cached_summary

st.title("Build a ResNet")
with st.sidebar:
    family = st.radio("Family", ["cifar", "imagenet"], key="build_family", horizontal=True)
    depths = CIFAR_PRESETS if family == "cifar" else tuple(IMAGENET_BLOCKS)
    depth = st.selectbox("Depth", depths, key=f"build_depth_{family}")
    residual = st.toggle("Residual connections", value=True, key="build_residual")

config = ResNetConfig(family=family, depth=depth, residual=residual)
s = cached_summary(config)
c1, c2, c3 = st.columns(3)
c1.metric("Parameters", f"{s.params:,}")
c2.metric("Multiply-accumulates", f"{s.macs:,}")
c3.metric("Input", f"{s.input_size}x{s.input_size}")
st.dataframe(
    pd.DataFrame([{**vars(r), "out_shape": "x".join(map(str, r.out_shape))} for r in s.layers]),
    hide_index=True,
)
