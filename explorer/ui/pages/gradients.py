"""Gradients: per-layer gradient norms, the depth sweep, and the shattered-gradients probe."""

import streamlit as st

from explorer.charts.gradients import gradient_norms_figure
from explorer.gradients import NO_VANISHING_NOTE, SweepResult, gradient_norms
from explorer.ui import state
from explorer.ui.cache import cached_probe_batch, figure, view
from explorer.ui.lesson_sections import depth_sweep_section, shattered_section
from explorer.ui.models_ui import model_picker_ui
from explorer.ui.widgets import show_chart

st.title("How gradients flow")
st.caption(
    "The size of the loss gradient at every layer, from the stem (left) to the classifier (right), for "
    "one batch. A vanishing gradient would fall towards the left; an exploding one rises towards the left, "
    "which is what deep plain networks with batch norm do at initialisation."
)
pairs = model_picker_ui()
card, model = pairs[0]

st.header("This network, one batch")
BN_MODES = ["batch statistics (as in training)", "running statistics (as in evaluation)"]
state.keep_valid(state.GRAD_BN, BN_MODES, BN_MODES[0])
mode = st.radio("Batch norm", BN_MODES, key=state.GRAD_BN, horizontal=True)
state.write_url(*state.PICKED, "bn")
results = []
for c, m in pairs:
    x, y = cached_probe_batch(c, m)
    norms = view(gradient_norms, c, m, x, y, train_mode=mode.startswith("batch"))
    results.append(
        SweepResult(c.config.name, c.config.depth, c.config.residual, [n for n, _ in norms], [v for _, v in norms])
    )
show_chart(figure(gradient_norms_figure, results, title=f"Gradient norm per layer ({len(x)} images)"), key="grad_this")
first_last = [
    f"**{r.name}**: first layer {r.values[0]:.3g}, last {r.values[-1]:.3g}, first / last {r.values[0] / r.values[-1]:.3g}"
    for r in results
]
st.markdown(" · ".join(first_last))
st.caption(NO_VANISHING_NOTE)

st.header("Across depths, at initialisation")
depth_sweep_section("grad")

st.header("Shattered gradients")
shattered_section("grad")
