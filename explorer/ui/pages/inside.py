"""Inside: feature maps of any layer, and a residual block's x, F(x) and x + F(x), plain vs residual."""

import pandas as pd
import streamlit as st

from explorer.charts.inside import channel_stats_figure, feature_map_figure, residual_figure
from explorer.i18n import _
from explorer.probes import feature_layers, feature_maps, residual_decomposition
from explorer.ui import state
from explorer.ui.models_ui import image_ui, model_picker_ui, prepared
from explorer.ui.widgets import show_chart

st.title(_("Look inside"))
st.caption(
    _(
        "What each layer computes for one image. Pick a layer: the grid shows its most active channels. "
        "Pick a block: see its input x, its residual branch F(x), and their sum."
    )
)
pairs = model_picker_ui()
card, model = pairs[0]
picked = image_ui(card)
if picked is None:
    st.stop()
img, _mask, name = picked

layers = feature_layers(model)
if st.session_state.get(state.LAYER) not in layers:
    st.session_state[state.LAYER] = layers[len(layers) // 2]
c1, c2 = st.columns([4, 1])
layer = c1.select_slider(_("Layer"), layers, key=state.LAYER)
k = c2.select_slider(_("Channels shown"), [4, 8, 16, 32], value=16, key=state.TOPK)

st.header(_("Feature maps at {layer}").format(layer=layer))
for c, m in pairs:
    with st.container():
        x, display = prepared(c, img)
        fm = feature_maps(m, layer, x, k)
        show_chart(
            feature_map_figure(
                fm,
                cols=8,
                title=_("{name}: {layer}, {c} channels of {h}x{w}").format(
                    name=c.config.name, layer=layer, c=fm.shape[0], h=fm.shape[1], w=fm.shape[2]
                ),
            ),
            key=f"inside_grid_{c.label}",
        )
        with st.expander(_("Per-channel statistics")):
            show_chart(channel_stats_figure(fm), key=f"inside_chstats_{c.label}")
            st.dataframe(
                pd.DataFrame(
                    {
                        _("channel"): range(len(fm.mean)),
                        _("mean"): fm.mean,
                        _("std"): fm.std,
                        _("max"): fm.max,
                        _("share active"): fm.active,
                    }
                ),
                hide_index=True,
                key=f"inside_stats_{c.label}",
            )

blocks = [n for n, _block in model.blocks()]
st.header(_("One residual block: x, F(x) and x + F(x)"))
st.markdown(
    _(
        "He et al. (Fig. 7) found that the residual branches of a trained ResNet answer with *small* outputs: "
        "each block makes a correction to what it receives. The ratio ‖F(x)‖ / ‖x‖ says how large that "
        "correction is here. A plain block has no shortcut: its output is relu(F(x)) alone."
    )
)
if st.session_state.get("inside_block") not in blocks:
    st.session_state["inside_block"] = layer if layer in blocks else blocks[0]
block = st.select_slider(_("Block"), blocks, key="inside_block")
for c, m in pairs:
    with st.container():
        x, _display = prepared(c, img)
        dec = residual_decomposition(m, block, x)
        show_chart(residual_figure(dec), key=f"inside_dec_{c.label}")
        if dec["note"]:
            st.caption(dec["note"])
