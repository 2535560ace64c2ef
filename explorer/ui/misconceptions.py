"""Learn, in Chinese: "常见误解", three myths Chinese-language tutorials often repeat, each answered with a
figure computed from the app's own runs and networks (``explorer.misconceptions``)."""

from __future__ import annotations

import streamlit as st

from explorer.charts.misconceptions import block_cost_figure, fit_figure, gradient_growth_figure
from explorer.gradients import first_last_ratios
from explorer.i18n import _
from explorer.misconceptions import block_costs, fits
from explorer.ui.cache import precomputed_run, precomputed_sweeps
from explorer.ui.widgets import show_chart


def _overfitting() -> None:
    st.subheader(_("Myth 1: residual connections cure overfitting"))
    run = precomputed_run("degradation")
    rows = {f.name: f for f in fits(run.history)} if run is not None else {}
    if not {"Plain-56", "ResNet-56"} <= rows.keys() or rows["Plain-56"].heldout_accuracy is None:
        st.info(_("The precomputed run is missing from assets/ (`make assets` makes it)."))
        return
    p56, r56 = rows["Plain-56"], rows["ResNet-56"]
    text = _(
        "Overfitting means fitting the training data well and held-out data badly. In the degradation run "
        "above, Plain-56 fits neither: its training accuracy is {p_train:.0%} and its held-out accuracy "
        "{p_held:.0%}. The shortcuts raise the 56-layer network's **training** accuracy to {r_train:.0%}: they "
        "make a deep network trainable, which is an optimisation problem (He et al. 2015, Fig. 1 and 4); "
        "they are not a regulariser."
    )
    st.markdown(text.format(p_train=p56.train_accuracy, p_held=p56.heldout_accuracy, r_train=r56.train_accuracy))
    show_chart(fit_figure(list(rows.values())), key="learn_myth_fit")


def _vanishing() -> None:
    st.subheader(_("Myth 2: residual connections exist because gradients vanish"))
    sweep, _shattered = precomputed_sweeps()
    ratios = {r["name"]: r for r in first_last_ratios([s for s in sweep or [] if not s.preact])}
    if not {"Plain-56", "ResNet-56"} <= ratios.keys():
        st.info(_("The precomputed sweep is missing from assets/ (`make assets`)."))
        return
    plain, res = ratios["Plain-56"]["ratio"], ratios["ResNet-56"]["ratio"]
    text = _(
        "If gradients vanished, the gradient at the first layer would be far smaller than at the last. At "
        "initialisation, with batch normalisation, Plain-56's weight gradient at its first layer is {plain:,.0f} "
        "times the one at its last layer: it grows towards the input instead of vanishing (gradient explosion)."
    ).format(plain=plain)
    if 0.1 <= res <= 10:
        text += " " + _("In ResNet-56 the ratio is {res:.2g}: the two stay within an order of magnitude.").format(
            res=res
        )
    else:
        text += " " + _("In ResNet-56 the ratio is {res:.2g}.").format(res=res)
    text += " " + _(
        "He et al. (2015, section 4.1) also found healthy gradients in their plain nets; the problem they name is "
        "degradation."
    )
    st.markdown(text)
    show_chart(gradient_growth_figure(list(ratios.values())), key="learn_myth_gradients")


def _bottleneck() -> None:
    st.subheader(_("Myth 3: a block of two 3x3 convolutions is a bottleneck block"))
    basic, wide, bottleneck = block_costs()
    text = _(
        "The block with two 3x3 convolutions is the **basic** block (ResNet-18/34 and every CIFAR net). A "
        "**bottleneck** block (ResNet-50/101/152; He et al. 2015, Fig. 5) is 1x1, 3x3, 1x1: the first 1x1 "
        "squeezes the channels by four, the 3x3 works on the thin tensor, the last 1x1 restores the width. "
        "Counted on this app's blocks: a bottleneck block carrying {b_ch} channels has {b:,} parameters, "
        "about as many as a basic block at {s_ch} channels ({s:,}); a basic block at {w_ch} channels would "
        "need {w:,}."
    )
    st.markdown(
        text.format(
            b_ch=bottleneck.channels, b=bottleneck.params, s_ch=basic.channels, s=basic.params,
            w_ch=wide.channels, w=wide.params,
        )
    )  # fmt: skip
    show_chart(block_cost_figure([basic, wide, bottleneck]), key="learn_myth_blocks")


def misconceptions_section() -> None:
    """Three myths, each answered by a measurement."""
    st.header(_("Common misconceptions"))
    st.markdown(_("Three claims that many tutorials repeat, each checked against a measurement of this app."))
    _overfitting()
    _vanishing()
    _bottleneck()
