"""Build: pick a network; its diagram with the skip edges, summary, layer table, shortcut scale."""

import pandas as pd
import streamlit as st

from explorer.charts.model import block_figure
from explorer.i18n import _
from explorer.summary import human
from explorer.ui import state
from explorer.ui.cache import architecture_spec, cached_summary, cached_twin_param_count, figure
from explorer.ui.widgets import network_ui, show_chart

config = network_ui()
st.title(_("Build a ResNet"))
st.caption(
    _(
        "Pick a family and a depth in the sidebar. Switch residual connections off to get the plain twin: "
        "the same layers in the same order, without the additions."
    )
)

s = cached_summary(config)
twin_params = cached_twin_param_count(config)  # from this network's modules: no twin built
c1, c2, c3, c4 = st.columns(4)
c1.metric(_("Parameters"), f"{s.params:,}", help=_("Counted from the built model."))
c2.metric(
    _("Multiply-accumulates"),
    human(s.macs),
    help=_("{macs:,}, counted by torch's FLOP counter for one image.").format(macs=s.macs),
)
c3.metric(_("Input"), f"{s.input_size}x{s.input_size}")
c4.metric(
    _("{name} parameters").format(name=config.twin().name),
    f"{twin_params:,}",
    delta=f"{twin_params - s.params:+,}" if twin_params != s.params else None,
    delta_color="off",
    help=(
        _("Option A shortcuts have no parameters, so the twins match exactly.")
        if config.shortcut == "A"
        else _(
            "Option B shortcuts are 1x1 convolutions with batch norm: the plain twin has none of them, "
            "so it has fewer parameters."
        )
    ),
)

st.subheader(_("Architecture"))
scale = st.slider(
    _("Shortcut scale s:  out = F(x) + s · shortcut(x)"),
    0.0,
    1.0,
    step=0.05,
    key=state.SCALE,
    disabled=not config.residual,
    help=_("s = 0 computes exactly what the plain twin computes; s = 1 is the residual network."),
)
show_chart(architecture_spec(config, scale), key="build_arch")
st.caption(
    _(
        "Boxes are residual blocks (hover for shapes and parameters); arcs are shortcuts. "
        "Dotted: option A (stride 2, zero-padded channels). Thick: option B (1x1 projection)."
    )
)

st.subheader(_("One block: where BN and ReLU sit"))
args = (config.block, "identity", config.residual, config.width)
show_chart(figure(block_figure, *args, preact=config.preact), key="build_block")
st.caption(
    _(
        "2016 pre-activation (He et al. 2016, Fig. 4(e)): BN and ReLU come before each convolution and nothing "
        "follows the addition, so x reaches the next block unchanged; the network ends with one BN and ReLU "
        "before the pool."
    )
    if config.preact
    else _(
        "2015 (He et al. 2015, Fig. 2): each convolution is followed by BN, and a ReLU follows the addition, so "
        "the shortcut's x passes through a ReLU at every block. Choose the 2016 block in the sidebar to compare."
    )
)

st.subheader(_("Receptive field"))
st.write(", ".join(f"**{k}** {v} px" for k, v in s.receptive_field.items()))

st.subheader(_("Layers"))
table = pd.DataFrame(
    [
        {
            _("layer"): r.name,
            _("type"): r.kind,
            _("output"): "x".join(map(str, r.out_shape)),
            _("parameters"): r.params,
            _("multiply-accumulates"): r.macs,
        }
        for r in s.layers
    ]
)
st.dataframe(table, hide_index=True, key="build_layers", height=420)
state.write_url(*state.NETWORK)
