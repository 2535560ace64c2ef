"""Learn: the story of ResNet in short sections, each with a live figure from the app's own models."""

import streamlit as st

from explorer.charts.inside import zero_gamma_figure
from explorer.charts.model import block_figure
from explorer.i18n import _
from explorer.models.config import CIFAR_PRESETS, IMAGENET_BLOCKS, ResNetConfig
from explorer.models.summary_records import human
from explorer.ui import pages, state
from explorer.ui.caches.assets import zero_gamma_ratios
from explorer.ui.caches.results import figure, network_cost
from explorer.ui.lesson_sections import degradation_section, gradients_section
from explorer.ui.misconceptions import misconceptions_section
from explorer.ui.preact_sections import preact_learn_section
from explorer.ui.widgets import lesson_step, show_chart, show_table

# He et al. 2015: Table 6 (CIFAR-10 parameters, test error %) and Table 1 (ImageNet FLOPs = multiply-adds)
PAPER_CIFAR = {20: (0.27e6, 8.75), 32: (0.46e6, 7.51), 44: (0.66e6, 7.17), 56: (0.85e6, 6.97), 110: (1.7e6, 6.43)}
PAPER_IMAGENET_FLOPS = {18: 1.8e9, 34: 3.6e9, 50: 3.8e9, 101: 7.6e9, 152: 11.3e9}


def family_tables() -> tuple[list[dict], list[dict]]:
    """The CIFAR and ImageNet networks, as counted here, beside the paper's figures."""
    kind_name = {"basic": _("basic"), "bottleneck": _("bottleneck")}
    cifar, imagenet = [], []  # two tables, each with only its own paper's columns: readable at a projector's 1024 px
    for depth in CIFAR_PRESETS:
        n_params, macs = network_cost(ResNetConfig("cifar", depth))
        params, err = PAPER_CIFAR[depth]
        cifar.append(
            {
                _("network"): f"ResNet-{depth}",
                _("blocks"): f"3 x {(depth - 2) // 6} {kind_name['basic']}",
                _("parameters (paper)"): f"{human(n_params)} ({human(params)})",
                _("multiply-accumulates"): human(macs),
                _("paper: test error"): f"{err}%" + (" " + _("(best of 5)") if depth == 110 else ""),
            }
        )
    for depth, (kind, blocks) in IMAGENET_BLOCKS.items():
        n_params, macs = network_cost(ResNetConfig("imagenet", depth))
        imagenet.append(
            {
                _("network"): f"ResNet-{depth}",
                _("blocks"): f"{'-'.join(map(str, blocks))} {kind_name[kind]}",
                _("parameters"): human(n_params),
                _("multiply-accumulates"): human(macs),
                _("paper: FLOPs"): human(PAPER_IMAGENET_FLOPS[depth]),
            }
        )
    return cifar, imagenet


st.title(_("Why residual networks work"))
st.markdown(
    _(
        "In 2015 Kaiming He and colleagues trained networks of 152 layers on ImageNet, eight times deeper than "
        "the VGG nets (He et al. 2015), by adding one thing: **shortcuts** that carry a block's input past it and "
        "add it to the block's output. They were not the first very deep nets: months earlier, highway networks "
        "(Srivastava et al. 2015) had trained hundreds of layers with *gated* shortcuts. This page tells the story "
        "in six short steps, each with a figure computed by this app's own networks."
    )
)
st.caption(_("Open a step to see its figures; open them one by one, or all at once."))
STEP = state.LEARN_STEPS

with (step := lesson_step(_("1. Deeper was worse: the degradation problem"), STEP[0])):
    st.markdown(
        _(
            "Stack more layers on a plain network and its **training** error goes *up*. That is not overfitting "
            "(overfitting lowers training error while test error rises): the deeper network is harder to "
            "*optimise*, even though it could copy the shallower one and make its extra layers identities. "
            "Below, plain and residual networks of 20 and 56 layers trained side by side on the same batches, in two "
            "recipes. In the short one, the live classroom preset, Plain-56 does not even start to learn: a failure "
            "to start. In the second, every step sees the same 64 images (full-batch training), and all four networks "
            "memorise them (100% training accuracy): Plain-56 learns, but its training loss falls more slowly and "
            "ends above Plain-20's. The deeper plain network converged more slowly, which points the way of the "
            "paper's Fig. 1 (a higher training *error*) without showing it. Neither is the paper's regime (64,000 "
            "steps on CIFAR-10)."
        )
    )
    if step.open:
        degradation_section()
    st.page_link(pages.EXPERIMENTS, label=_("Re-run this experiment live"), icon=":material/science:")

with (step := lesson_step(_("2. The residual block: out = relu(x + F(x))"), STEP[1])):
    st.markdown(
        _(
            "A residual block learns a *correction* F(x) that is added to its input: out = relu(x + F(x)). The "
            "shortcut carries x past the two convolutions, but the ReLU after the addition means the path across "
            "many blocks is not a pure identity; pre-activation blocks (He et al. 2016, 'Identity Mappings in Deep "
            "Residual Networks') move the ReLU into the branch to make it one. He et al. 2015 *conjecture* that if an "
            "identity mapping were the best a block could do, pushing F(x) towards zero would be easier for the "
            "solver than fitting an identity with a stack of nonlinear layers."
        )
    )
    st.markdown(
        _(
            "Here batch norm comes last in the branch, so shrinking the convolution weights does not shrink F(x): "
            "batch norm scales the branch back up. What makes F(x) zero is the last batch norm's scale γ. "
            "**Zero-γ initialisation** (Goyal et al. 2017) sets it to 0, so every block starts as relu(x + 0): below, "
            "the size of each block's F(x) relative to its shortcut, at initialisation, with and without it."
        )
    )
    if step.open:
        ratios = {_(k): v for k, v in zero_gamma_ratios().items()}
        show_chart(figure(zero_gamma_figure, ratios), key="learn_zero_gamma")
        # block diagrams one under the other: side by side, a projector's 1024 px squeezes their boxes over labels
        show_chart(figure(block_figure, "basic", "identity", residual=True), key="learn_block_res")
        show_chart(figure(block_figure, "basic", "identity", residual=False), key="learn_block_plain")
    st.page_link(pages.BUILD, label=_("Build one and switch its shortcuts off"), icon=":material/construction:")

with (step := lesson_step(_("3. Basic and bottleneck blocks"), STEP[2])):
    basic_macs = network_cost(ResNetConfig("imagenet", 34))[1]
    bottle_macs = network_cost(ResNetConfig("imagenet", 50))[1]
    st.markdown(
        _(
            "ResNet-18 and 34 stack **basic** blocks (two 3x3 convolutions). ResNet-50, 101 and 152 "
            "use **bottleneck** blocks: a 1x1 convolution shrinks the channels by four, a 3x3 works on "
            "the thin tensor, and a 1x1 restores the width. That is why ResNet-50 costs about what "
            "ResNet-34 costs: {bottleneck} against {basic} multiply-accumulates per 224x224 image (counted "
            "here by torch's FLOP counter)."
        ).format(bottleneck=human(bottle_macs), basic=human(basic_macs))
    )
    if step.open:
        show_chart(figure(block_figure, "bottleneck", "identity"), key="learn_bottleneck")

with (step := lesson_step(_("4. When the shape changes: shortcut options A and B"), STEP[3])):
    a_params = network_cost(ResNetConfig("cifar", 20, shortcut="A"))[0]
    b_params = network_cost(ResNetConfig("cifar", 20, shortcut="B"))[0]
    st.markdown(
        _(
            "At the start of a stage the block halves the resolution and doubles the channels, so x no "
            "longer fits F(x). **Option A** takes every second pixel and pads the new channels with "
            "zeros: no parameters, the paper's choice for CIFAR. **Option B** uses a 1x1 convolution "
            "with stride 2 and batch norm: torchvision's choice. For ResNet-20: {a:,} parameters "
            "with A, {b:,} with B."
        ).format(a=a_params, b=b_params)
    )
    if step.open:
        show_chart(figure(block_figure, "basic", "A", channels=32), key="learn_option_a")
        show_chart(figure(block_figure, "basic", "B", channels=32), key="learn_option_b")

with (step := lesson_step(_("5. Why it helps, and what vanishing gradients have to do with it"), STEP[4])):
    st.markdown(
        _(
            "A common story says deep plain networks fail because their gradients vanish. With **batch "
            "normalisation** that is not what happens. He et al. (section 4.1) checked their plain nets during "
            "training and found no vanishing, yet the deeper ones trained worse. The measurement below, at "
            "initialisation, shows the opposite of vanishing: in Plain-56 the gradient *grows* towards the input, "
            "the first layer's about a thousand times the last's; batch norm without shortcuts makes gradients "
            "explode with depth (Yang et al. 2019, 'A Mean Field Theory of Batch Normalization'). In ResNet-56 the "
            "first/last ratio stays within an order of magnitude. The other view is also argued: He et al. 2016 "
            "(eq. 5) show that with identity shortcuts every layer's gradient gets a term straight from the loss, so "
            "it is unlikely to vanish, and Veit et al. 2016 find that a ResNet's gradient flows mostly through its "
            "short paths. Both say shortcuts keep gradients from vanishing; He et al. 2015 found that, with batch "
            "norm, a plain net's did not vanish in the first place. The gradient of a deep plain net is also "
            "*less informative*: it "
            "'shatters' into something like noise (Balduzzi et al. 2017). Why exactly the deep plain net is hard to "
            "optimise is still open: He et al. conjecture that solvers have difficulty *approximating* identity "
            "mappings with stacks of nonlinear layers (a plain block can represent the identity, as section 1 says; "
            "finding it is the hard part). Shortcuts give both the signal and its gradient a direct path."
        )
    )
    if step.open:
        gradients_section()
        preact_learn_section()
    st.page_link(pages.BUILD, label=_("Build a pre-activation network"), icon=":material/construction:")
    st.page_link(pages.GRADIENTS, label=_("Measure gradients yourself"), icon=":material/show_chart:")
    st.page_link(
        pages.LANDSCAPE, label=_("See the loss landscapes of plain and residual networks"), icon=":material/landscape:"
    )

with (step := lesson_step(_("6. The family"), STEP[5])):
    if step.open:
        cifar, imagenet = family_tables()
        st.markdown(_("**CIFAR-10 networks** (32x32 images)"))
        show_table(cifar, key="learn_family")
        st.markdown(_("**ImageNet networks** (224x224 images)"))
        show_table(imagenet, key="learn_family_imagenet")
    st.caption(
        _(
            "Counted by this app at 32x32 (CIFAR) and 224x224 (ImageNet). The paper's FLOPs are multiply-adds. "
            "Test errors are from He et al. 2015, Table 6 (single runs, except ResNet-110: the best of 5 runs, whose "
            "mean is 6.61% ± 0.16). "
            "Torchvision's bottleneck nets put the stride on the 3x3 convolution ('ResNet v1.5'), which costs a "
            "little more than the paper's stride on the first 1x1: 4.1G against 3.8G for ResNet-50."
        )
    )

with (step := lesson_step(_("Common misconceptions"), STEP[6])):
    st.markdown(_("Three claims that many tutorials repeat, each checked against a measurement of this app."))
    if step.open:
        misconceptions_section()
state.write_url()  # this page has no choices: a link to it carries none
