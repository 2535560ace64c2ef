"""Gradients: per-layer gradient norms, the depth sweep, the shattered-gradients probe, and the gradient by path length."""

import streamlit as st

from explorer.charts.gradients import gradient_norms_figure
from explorer.experiments.init_gradients import PROBE_IMAGES
from explorer.i18n import N_, _
from explorer.interpret.gradient_results import SweepResult
from explorer.interpret.gradients import gradient_norms
from explorer.ui import state
from explorer.ui.caches.assets import precomputed_gradient_norms
from explorer.ui.caches.results import cached_probe_batch, figure, view
from explorer.ui.lesson_sections import depth_sweep_section, shattered_section
from explorer.ui.models_ui import load_model_ui, model_picker_ui
from explorer.ui.paths_section import paths_section
from explorer.ui.preact_sections import preact_gradients_section
from explorer.ui.widgets import show_chart

st.title(_("How gradients flow"))
st.caption(
    _(
        "The size of the loss gradient at every layer, from the stem (left) to the classifier (right), for "
        "one batch. A vanishing gradient would fall towards the left; an exploding one rises towards the left, "
        "which is what deep plain networks with batch norm do at initialisation."
    )
)
# load=False: the precomputed table answers for the sidebar's untrained networks
pairs = model_picker_ui(load=False, url=(*state.PICKED, "bn"))

st.header(_("This network, one batch"))
BN_MODES = [N_("batch statistics (as in training)"), N_("running statistics (as in evaluation)")]  # shown through _()
state.keep_valid(state.GRAD_BN, BN_MODES, BN_MODES[0])
mode = st.radio(_("Batch norm"), BN_MODES, key=state.GRAD_BN, horizontal=True, format_func=_)
state.write_url(*state.PICKED, "bn")
train_mode = mode.startswith("batch")
results, images = [], PROBE_IMAGES
for c, _none in pairs:
    # the sidebar's untrained networks from the precomputed table (computed on the same batch), any other live
    norms = precomputed_gradient_norms(c, train_mode, PROBE_IMAGES)
    if norms is None:
        m = load_model_ui(c)
        x, y = cached_probe_batch(c, m, n=PROBE_IMAGES)  # the built-in photos for ImageNet networks: all of them
        norms, images = view(gradient_norms, c, m, x, y, train_mode=train_mode), len(x)
    names, values = [n for n, _v in norms], [v for _n, v in norms]
    results.append(SweepResult(c.config.name, c.config.depth, c.config.residual, names, values, c.config.preact))
title = _("Gradient norm per layer ({n} images)").format(n=images)
show_chart(figure(gradient_norms_figure, results, title=title), key="grad_this")
text = _("**{name}**: first layer {first:.3g}, last {last:.3g}, first / last {ratio:.3g}")
first_last = [
    text.format(name=r.name, first=r.values[0], last=r.values[-1], ratio=r.values[0] / r.values[-1]) for r in results
]
st.markdown(" · ".join(first_last))  # the note on what these numbers mean follows the depth sweep below

st.header(_("Across depths, at initialisation"))
depth_sweep_section("grad")

st.header(_("The 2015 block against the 2016 pre-activation block"))
preact_gradients_section("grad")

st.header(_("Shattered gradients"))
shattered_section("grad")

st.header(_("Where the gradient flows: paths of every length"))
paths_section("grad")
