"""Build: pick a network; its diagram with the skip edges, summary, layer table, shortcut scale."""

import pandas as pd
import streamlit as st

from explorer.charts.misconceptions import ratio_text
from explorer.charts.model import block_figure, shortcut_scale_figure
from explorer.experiments.init_gradients import PROBE_IMAGES
from explorer.i18n import _
from explorer.interpret import model_cards
from explorer.interpret.gradients import scaled_gradient_norms
from explorer.models.summary_records import human
from explorer.ui import state
from explorer.ui.caches.results import (
    architecture_spec,
    cached_probe_batch,
    cached_summary,
    cached_twin_param_count,
    figure,
    view,
)
from explorer.ui.models_ui import load_model_ui
from explorer.ui.widgets import network_ui, show_chart

SCALE_STEP = 0.05
# where the curve is measured (the slider's s too): one pass each, 0.08 CPU-s in ResNet-20, 0.2 in ResNet-56 and 0.5
# in ResNet-110 on one core, so deeper networks get three points and their first view stays near a second
SCALE_GRID = {True: (0.0, 0.25, 0.5, 0.75, 1.0), False: (0.0, 0.5, 1.0)}  # depth <= 56 or not


def shortcut_scale_section(config, scale: float) -> None:
    """What s does to something measured: the first/last gradient ratio of the untrained network on the probe batch.

    Each s is one forward and backward pass on a copy of the shared network (``scaled_gradient_norms``), cached for
    the whole class; CIFAR networks only (an ImageNet pass at 224 px takes seconds on a laptop CPU).
    """
    if not config.residual:
        st.caption(_("The plain twin has no shortcut to scale: switch residual connections on to see what s does."))
        return
    if config.family != "cifar":
        st.caption(
            _(
                "What s does to the gradients is measured live for the CIFAR networks only: one pass with gradients "
                "through an ImageNet network at 224 px takes seconds on a laptop CPU. Pick the CIFAR family to see it."
            )
        )
        return
    card = model_cards.untrained_card(config)
    model = load_model_ui(card)
    x, y = cached_probe_batch(card, model, n=PROBE_IMAGES)
    ratios = {}
    for s in sorted({*SCALE_GRID[config.depth <= 56], scale}):
        norms = view(scaled_gradient_norms, card, model, x, y, scale=s)
        ratios[s] = norms[0][1] / norms[-1][1]
    show_chart(figure(shortcut_scale_figure, list(ratios.items()), scale, config.name), key="build_scale")
    st.markdown(
        _(
            "At **s = {s:.2f}** the first layer's gradient is **{now} times** the last layer's (untrained "
            "{name}, {n} shapes, batch statistics). At s = 0, the plain twin: {plain} times; at s = 1, the "
            "residual network: {res} times."
        ).format(
            s=scale,
            now=ratio_text(ratios[scale], html=False),
            name=config.name,
            n=len(x),
            plain=ratio_text(ratios[0.0], html=False),
            res=ratio_text(ratios[1.0], html=False),
        )
    )


config = network_ui()
st.title(_("Build a ResNet"))
st.caption(
    _(
        "Pick a family and a depth in the sidebar. Switch residual connections off to get the plain twin: "
        "the same layers in the same order, without the additions."
    )
    if config.residual
    else _(
        "This is a plain network: each block's output is its own layers' output alone, with no shortcut and no "
        "addition. Its residual twin has the same layers in the same order; switch residual connections on in "
        "the sidebar to compare."
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
    step=SCALE_STEP,
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
    if config.residual
    else _(
        "Boxes are blocks (hover for shapes and parameters), joined one after another: a plain network has no "
        "arcs because nothing skips a block; every signal and every gradient passes through every layer."
    )
)
shortcut_scale_section(config, scale)

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
state.write_url(*state.NETWORK, *(("scale",) if config.residual else ()))
