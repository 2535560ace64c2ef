"""Learn's last section, "Common misconceptions" (常见误解), in every language: three myths tutorials often
repeat, each answered with a figure computed from the app's own runs and networks (``explorer.experiments.misconceptions``)."""

from __future__ import annotations

import streamlit as st

from explorer.charts.misconceptions import block_cost_figure, fit_figure, gradient_growth_figure, ratio_text
from explorer.experiments.misconceptions import block_costs, fits
from explorer.experiments.precompute import load_block_costs
from explorer.i18n import _, then
from explorer.interpret.gradient_results import first_last_ratios
from explorer.ui.caches.assets import ASSET_EXPERIMENTS, precomputed_run, precomputed_sweeps
from explorer.ui.widgets import show_chart


def _fits(name: str) -> dict:
    """Network name -> ``Fit`` for the precomputed run ``name``; empty when the run or its held-out numbers are missing."""
    run = precomputed_run(name)
    rows = {f.name: f for f in fits(run.history)} if run is not None else {}
    ok = {"Plain-56", "ResNet-56"} <= rows.keys() and rows["ResNet-56"].heldout_accuracy is not None
    return rows if ok else {}


def _overfitting() -> None:
    st.subheader(_("Myth 1: residual connections cure overfitting"))
    full, short = _fits("degradation-full-batch"), _fits("degradation")
    if not full or not short:
        st.info(_("The precomputed runs are missing from assets/ (`make assets` makes them)."))
        return
    text = _(
        "Overfitting means fitting the training data well and held-out data badly, and shortcuts do not prevent "
        "it. In this app's full-batch run, where every step sees the same 64 images, ResNet-56 fits its training "
        "images ({r_train:.0%} training accuracy) and is near chance on held-out ones ({r_held:.0%}): it "
        "overfits completely, shortcuts and all. He et al. (2015, section 4.2) report it at full scale too: "
        "their 1202-layer ResNet reaches a training error like the 110-layer one's but a higher test error "
        "(7.93% against 6.43%), which they attribute to overfitting. What the shortcuts fix is optimisation: in "
        "the short run Plain-56 never leaves chance ({p_train:.0%} training accuracy) while ResNet-56 reaches "
        "{r_short:.0%} (He et al. 2015, Fig. 1 and 4). There the shortcuts raise held-out accuracy too "
        "({p_held:.0%} to {r_short_held:.0%}), but only because Plain-56 learned nothing: a network that cannot "
        "fit its training data cannot generalise either."
    )
    p56, r56 = short["Plain-56"], short["ResNet-56"]
    st.markdown(
        text.format(
            r_train=full["ResNet-56"].train_accuracy, r_held=full["ResNet-56"].heldout_accuracy,
            p_train=p56.train_accuracy, r_short=r56.train_accuracy, p_held=p56.heldout_accuracy,
            r_short_held=r56.heldout_accuracy,
        )
    )  # fmt: skip
    show_chart(fit_figure(list(full.values())), key="learn_myth_fit")
    st.caption(_("The full-batch run: every network fits its 64 training images and none generalises."))


def _vanishing() -> None:
    st.subheader(_("Myth 2: deep plain networks fail because their gradients vanish"))
    sweep, _shattered = precomputed_sweeps()
    ratios = {r["name"]: r for r in first_last_ratios([s for s in sweep or [] if not s.preact])}
    if not {"Plain-56", "ResNet-56"} <= ratios.keys():
        st.info(_("The precomputed sweep is missing from assets/ (`make assets`)."))
        return
    plain, res = ratios["Plain-56"]["ratio"], ratios["ResNet-56"]["ratio"]
    text = _(
        "If gradients vanished, the gradient at the first layer would be far smaller than at the last. At "
        "initialisation, with batch normalisation, Plain-56's weight gradient at its first layer is {plain} "
        "times the one at its last layer: it grows towards the input instead of vanishing (gradient explosion)."
    ).format(plain=ratio_text(plain, html=False))
    if 0.1 <= res <= 10:
        text = then(
            text,
            _("In ResNet-56 the ratio is {res}: the two stay within an order of magnitude.").format(
                res=ratio_text(res, html=False)
            ),
        )
    else:
        text = then(text, _("In ResNet-56 the ratio is {res}.").format(res=ratio_text(res, html=False)))
    text = then(
        text,
        _(
            "He et al. (2015, section 4.1) checked their plain nets during training, with batch norm, and found "
            "that the gradients do not vanish; the problem they name is degradation. Shortcuts may still help "
            "gradients: He et al. 2016 (eq. 5) show that with identity shortcuts every layer's gradient gets a "
            "term straight from the loss, and Veit et al. 2016 find it flows mostly through short paths."
        ),
    )
    st.markdown(text)
    show_chart(gradient_growth_figure(list(ratios.values())), key="learn_myth_gradients")


def _bottleneck() -> None:
    st.subheader(_("Myth 3: a block of two 3x3 convolutions is a bottleneck block"))
    # the asset (no torch on the first page); counted here when it is missing
    basic, wide, bottleneck = load_block_costs(ASSET_EXPERIMENTS) or block_costs()
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
    """Three myths, each answered by a measurement (the page gives the section its title)."""
    _overfitting()
    _vanishing()
    _bottleneck()
