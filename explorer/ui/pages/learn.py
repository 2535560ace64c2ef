"""Learn: the story of ResNet in short sections, each with a live figure from the app's own models."""

import pandas as pd
import streamlit as st

from explorer.charts.model import block_figure
from explorer.i18n import _, get_language
from explorer.models import CIFAR_PRESETS, IMAGENET_BLOCKS, ResNetConfig
from explorer.summary import human
from explorer.ui import pages
from explorer.ui.cache import cached_summary
from explorer.ui.lesson_sections import degradation_section, gradients_section
from explorer.ui.misconceptions import misconceptions_section
from explorer.ui.widgets import show_chart

# He et al. 2015: Table 6 (CIFAR-10 parameters, test error %) and Table 1 (ImageNet FLOPs = multiply-adds)
PAPER_CIFAR = {20: (0.27e6, 8.75), 32: (0.46e6, 7.51), 44: (0.66e6, 7.17), 56: (0.85e6, 6.97), 110: (1.7e6, 6.43)}
PAPER_IMAGENET_FLOPS = {18: 1.8e9, 34: 3.6e9, 50: 3.8e9, 101: 7.6e9, 152: 11.3e9}

st.title(_("Why residual networks work"))
st.markdown(
    _(
        "In 2015 Kaiming He and colleagues trained networks of 152 layers, eight times deeper than anything "
        "before, by adding one thing: **shortcuts** that carry a block's input past it and add it to the "
        "block's output. This page tells the story in six short steps, each with a figure computed by this "
        "app's own networks."
    )
)

st.header(_("1. Deeper was worse: the degradation problem"))
st.markdown(
    _(
        "Stack more layers on a plain network and its **training** error goes *up*. That is not overfitting "
        "(overfitting lowers training error while test error rises): the deeper network is harder to "
        "*optimise*, even though it could copy the shallower one and make its extra layers identities. "
        "Below, plain and residual networks of 20 and 56 layers trained side by side on the same batches."
    )
)
degradation_section()
st.page_link(pages.EXPERIMENTS, label=_("Re-run this experiment live"), icon=":material/science:")

st.header(_("2. The residual block: out = x + F(x)"))
st.markdown(
    _(
        "A residual block learns only a *correction* F(x) to its input; the shortcut carries x unchanged. "
        "If the best thing a block can do is nothing, it only has to drive F(x) towards zero, which is easy, "
        "instead of learning an identity mapping through two convolutions and a ReLU."
    )
)
c1, c2 = st.columns(2)
with c1:
    show_chart(block_figure("basic", "identity", residual=True), key="learn_block_res")
with c2:
    show_chart(block_figure("basic", "identity", residual=False), key="learn_block_plain")
st.page_link(pages.BUILD, label=_("Build one and switch its shortcuts off"), icon=":material/construction:")

st.header(_("3. Basic and bottleneck blocks"))
basic = cached_summary(ResNetConfig("imagenet", 34))
bottle = cached_summary(ResNetConfig("imagenet", 50))
st.markdown(
    _(
        "ResNet-18 and 34 stack **basic** blocks (two 3x3 convolutions). ResNet-50, 101 and 152 use "
        "**bottleneck** blocks: a 1x1 convolution shrinks the channels by four, a 3x3 works on the thin "
        "tensor, and a 1x1 restores the width. That is why ResNet-50 costs about what ResNet-34 costs: "
        "{bottleneck} against {basic} multiply-accumulates per 224x224 image "
        "(counted here by torch's FLOP counter)."
    ).format(bottleneck=human(bottle.macs), basic=human(basic.macs))
)
show_chart(block_figure("bottleneck", "identity"), key="learn_bottleneck")

st.header(_("4. When the shape changes: shortcut options A and B"))
a = cached_summary(ResNetConfig("cifar", 20, shortcut="A"))
b = cached_summary(ResNetConfig("cifar", 20, shortcut="B"))
st.markdown(
    _(
        "At the start of a stage the block halves the resolution and doubles the channels, so x no longer "
        "fits F(x). **Option A** takes every second pixel and pads the new channels with zeros: no "
        "parameters, the paper's choice for CIFAR. **Option B** uses a 1x1 convolution with stride 2 and "
        "batch norm: torchvision's choice. For ResNet-20: {a:,} parameters with A, {b:,} with B."
    ).format(a=a.params, b=b.params)
)
c1, c2 = st.columns(2)
with c1:
    show_chart(block_figure("basic", "A", channels=32), key="learn_option_a")
with c2:
    show_chart(block_figure("basic", "B", channels=32), key="learn_option_b")

st.header(_("5. Why it helps, and why 'it fixes vanishing gradients' is not the whole story"))
st.markdown(
    _(
        "A common story says deep plain networks fail because their gradients vanish. With **batch "
        "normalisation** that is not what the paper found: its plain networks had healthy gradient norms "
        "(He et al., section 4.1) and still trained worse. The measurement below agrees: at initialisation the "
        "plain network's gradients do not shrink towards the input. What goes wrong is subtler: in a deep plain "
        "network the gradient becomes *less informative* (it 'shatters' into noise, Balduzzi et al. 2017), and "
        "the identity is hard to represent. Shortcuts keep a clean path for both the signal and its gradient."
    )
)
gradients_section()
st.page_link(pages.GRADIENTS, label=_("Measure gradients yourself"), icon=":material/show_chart:")

st.header(_("6. The family"))
KIND = {"basic": _("basic"), "bottleneck": _("bottleneck")}
rows = []
for depth in CIFAR_PRESETS:
    s = cached_summary(ResNetConfig("cifar", depth))
    params, err = PAPER_CIFAR[depth]
    rows.append(
        {
            _("network"): f"ResNet-{depth} (CIFAR)",
            _("blocks"): f"3 x {(depth - 2) // 6} {KIND['basic']}",
            _("parameters"): human(s.params),
            _("paper: parameters"): human(params),
            _("multiply-accumulates"): human(s.macs),
            _("paper: FLOPs"): "",
            _("paper: CIFAR-10 test error"): f"{err}%",
        }
    )
for depth, (kind, blocks) in IMAGENET_BLOCKS.items():
    s = cached_summary(ResNetConfig("imagenet", depth))
    rows.append(
        {
            _("network"): f"ResNet-{depth} (ImageNet)",
            _("blocks"): f"{'-'.join(map(str, blocks))} {KIND[kind]}",
            _("parameters"): human(s.params),
            _("paper: parameters"): "",
            _("multiply-accumulates"): human(s.macs),
            _("paper: FLOPs"): human(PAPER_IMAGENET_FLOPS[depth]),
            _("paper: CIFAR-10 test error"): "",
        }
    )
st.dataframe(pd.DataFrame(rows), hide_index=True, key="learn_family")
st.caption(
    _(
        "Counted by this app at 32x32 (CIFAR) and 224x224 (ImageNet). The paper's FLOPs are multiply-adds. "
        "Torchvision's bottleneck nets put the stride on the 3x3 convolution ('ResNet v1.5'), which costs a "
        "little more than the paper's stride on the first 1x1: 4.1G against 3.8G for ResNet-50."
    )
)

if get_language() == "zh":  # the myths Chinese-language tutorials often repeat (issue #11)
    misconceptions_section()
