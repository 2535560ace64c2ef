"""Experiments: classroom presets, one click each; precomputed results at once, live re-runs on demand."""

import streamlit as st

from explorer.charts.lesion import lesion_figure, removal_curve_figure
from explorer.experiments.lesion import lesion_study
from explorer.experiments.precompute import lesion_data
from explorer.i18n import _
from explorer.training import PRESET_MODELS, PRESETS
from explorer.ui.cache import cached_card_model, precomputed_cards, precomputed_lesions, precomputed_run
from explorer.ui.lesson_sections import degradation_summary, shattered_section
from explorer.ui.training_view import current, history_charts, live_panel, start_ui
from explorer.ui.widgets import show_chart

JOB_KEY = "experiments_live"

st.title(_("Experiments"))
st.caption(_("Classroom presets. Each shows results computed in advance at once; re-run any of them live."))

tab_deg, tab_lesion, tab_shatter = st.tabs([_("Degradation"), _("Lesion study"), _("Shattered gradients")])

with tab_deg:
    st.markdown(
        _(
            "**He et al. 2015, Fig. 1 and 6, at classroom scale.** Plain networks of 20 and 56 layers and their "
            "residual twins, trained in lock-step on the built-in shapes. The deeper plain network ends with a "
            "*higher training loss* than the shallower one: more layers made it harder to optimise. The residual "
            "56-layer network does not suffer from this."
        )
    )
    run = precomputed_run("degradation")
    live = current(JOB_KEY)
    if live is None:
        if run is None:
            st.info(_("No precomputed run ships with this copy (see `make assets`): run it live below."))
        else:
            st.subheader(_("Computed in advance"))
            degradation_summary(run.history)
            history_charts(run.history, "exp_deg_pre")
    preset = PRESETS["degradation"]
    if st.button(
        _("Re-run live ({steps} steps, about 2 minutes)").format(steps=preset.steps),
        key="exp_deg_run",
        disabled=live is not None and live[0].active,
    ):
        start_ui(JOB_KEY, "degradation", list(PRESET_MODELS["degradation"]), preset)
        st.rerun()
    if live is not None:
        st.subheader(_("Live"))
        live_panel(JOB_KEY)
        if not live[0].active and live[1].history.step:
            degradation_summary(live[1].history)

with tab_lesion:
    st.markdown(
        _(
            "**Veit et al. 2016: residual networks behave like ensembles of shallower paths.** They found that "
            "removing one block from a trained residual network (keeping its shortcut) barely moves its accuracy, "
            "while removing a layer from a plain network is disastrous. Here is what happens to this app's "
            "trained networks. Blocks that change the shape cannot be removed from a plain network at all: "
            "nothing would carry the signal past them."
        )
    )
    cards = [c for c in precomputed_cards() if c.run and c.run.endswith("degradation")]
    depths = sorted({c.config.depth for c in cards}) or [20, 56]
    depth = st.radio(_("Depth"), depths, index=len(depths) - 1, key="exp_lesion_depth", horizontal=True)
    chosen = sorted((c for c in cards if c.config.depth == depth), key=lambda c: not c.config.residual)
    results = [r for r in (precomputed_lesions() or []) if r.model_name.endswith(f"-{depth}")]
    if chosen and st.button(_("Re-run the lesion study live"), key="exp_lesion_run"):
        st.button(_("Stop"), key="exp_lesion_stop")
        x, y = lesion_data(chosen[0].image_size)
        results = []
        for card in chosen:
            bar = st.progress(0.0, text=_("{name}: removing blocks…").format(name=card.config.name))
            text = _("{i} of {n} evaluations")
            progress = lambda i, n, bar=bar, text=text: bar.progress(i / n, text=text.format(i=i, n=n))  # noqa: E731
            results.append(lesion_study(cached_card_model(card), (x, y), progress=progress))
            bar.empty()
    if not results:
        st.info(
            _(
                "No lesion results ship with this copy (`make assets`), and there are no trained networks to "
                "run it on: train the degradation preset first."
            )
        )
    else:
        show_chart(lesion_figure(results), key="exp_lesion_bars")
        show_chart(removal_curve_figure(results), key="exp_lesion_curve")
        if any(r.baseline < 0.2 for r in results):
            st.caption(
                _("A network at chance accuracy (about 10%) has nothing to lose: read its bars with that in mind.")
            )

with tab_shatter:
    shattered_section("exp")
