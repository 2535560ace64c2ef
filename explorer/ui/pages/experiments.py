"""Experiments: classroom presets, one click each; precomputed results at once, live re-runs on demand."""

import streamlit as st

from explorer.charts.lesion import lesion_figure, removal_curve_figure
from explorer.engine import records as engine_records
from explorer.i18n import LANGUAGES, N_, _, language
from explorer.tasks import experiments as tasks_experiments
from explorer.training.presets import PRESET_MODELS, PRESETS
from explorer.ui import state
from explorer.ui.caches.assets import precomputed_cards, precomputed_lesions, precomputed_run
from explorer.ui.caches.models import cached_card_model
from explorer.ui.caches.results import figure
from explorer.ui.job_view import engine_down_text, job_panel, submit_ui
from explorer.ui.lesson_sections import (
    degradation_summary,
    lesion_verdict,
    recipe_caption,
    run_titles,
    shattered_section,
)
from explorer.ui.training_view import busy, current, history_charts, live_panel, start_ui
from explorer.ui.widgets import show_chart

JOB_KEY = "experiments_live"
RUN_TITLES = {"degradation": "Degradation", "degradation-full-batch": "Degradation, full batch"}  # the job's title
LESION_JOB = "experiments_lesion_job"


def rerun_button(recipe, name: str) -> None:
    """Re-run one degradation recipe live, with exactly the settings its caption states."""
    what = run_titles().get(name, "")
    if st.button(
        _("Re-run {what} ({steps} steps of batch {batch} on {images:,} shapes at {size} px)").format(
            what=what, steps=recipe.steps, batch=recipe.batch_size, images=recipe.train_size, size=recipe.image_size
        ),
        key=f"exp_deg_run_{name}",
        disabled=busy(JOB_KEY),
    ):
        try:
            start_ui(JOB_KEY, RUN_TITLES.get(name, "Degradation"), list(PRESET_MODELS["degradation"]), recipe)
        except engine_records.EngineUnavailable as e:
            st.error(engine_down_text(e))
            return
        st.rerun()


st.title(_("Experiments"))
st.caption(_("Classroom presets. Each shows results computed in advance at once; re-run any of them live."))

TABS = {"degradation": N_("Degradation"), "lesion": N_("Lesion study"), "shattered": N_("Shattered gradients")}


def tab_id(value) -> str | None:
    """The tab a value names: its id (what links carry), or its label in any language (what older links and the
    widget carry); None for anything else."""
    if value in TABS:
        return value
    for code in LANGUAGES:
        with language(code):
            ids = {_(label): tid for tid, label in TABS.items()}
        if value in ids:
            return ids[value]
    return None


def tabs_ui():
    """The three tabs, the chosen one open; the URL carries its id (``?tab=lesion``), the tabs their labels."""
    ss = st.session_state
    # the widget's own value when it has one (a click, or a label of the language just left), else the link's
    chosen = tab_id(ss.get(state.EXP_TAB)) or tab_id(ss.get(state.EXP_TAB_ID)) or "degradation"
    ss[state.EXP_TAB_ID] = chosen
    ss[state.EXP_TAB] = _(TABS[chosen])  # the label in this run's language, after a language switch too
    return st.tabs([_(label) for label in TABS.values()], key=state.EXP_TAB, on_change="rerun")


tab_deg, tab_lesion, tab_shatter = tabs_ui()

with tab_deg:
    st.markdown(
        _(
            "**After He et al. 2015, Figs. 1 and 6: a classroom experiment.** Plain networks of 20 and 56 layers "
            "and their residual twins, trained in lock-step on the same batches of the built-in shapes, in two recipes. "
            "In the short live preset Plain-56 fails to start: it stays at chance while the others learn. In the "
            "full-batch recipe every step sees the same 64 images, and all four networks memorise them (100% "
            "training accuracy, held-out accuracy near chance), so their training errors end equal. What differs is "
            "the training loss: Plain-56's falls more slowly and ends above Plain-20's, so the deeper plain network "
            "converged more slowly. That points the way of the paper's Fig. 1, where the deeper plain net ends "
            "with the higher training error, but it is not that figure. Both runs are far from the paper's regime "
            "(64,000 steps on CIFAR-10)."
        )
    )
    live = current(JOB_KEY)
    if live is None:
        shown = False
        for name, what in run_titles().items():
            run = precomputed_run(name)
            if run is None:
                continue
            shown = True
            st.subheader(_("Computed in advance: {what}").format(what=what))
            degradation_summary(run.history, key=f"exp_deg_table_{name}")
            history_charts(run.history, f"exp_deg_pre_{name}", shared=True)
            st.caption(recipe_caption(run))
            rerun_button(run.train, name)
        if not shown:
            st.info(_("No precomputed run ships with this copy (see `make assets`): run it live below."))
            rerun_button(PRESETS["degradation"], "degradation")
    if live is not None:
        st.subheader(_("Live"))
        finished = live_panel(JOB_KEY)
        if finished is not None and finished.history.step:
            degradation_summary(finished.history)
        for name in run_titles():
            run = precomputed_run(name)
            rerun_button(PRESETS["degradation"] if run is None else run.train, name)

with tab_lesion:
    st.markdown(
        _(
            "**Veit et al. 2016: residual networks behave like ensembles of shallower paths.** They found that "
            "removing one block from a trained residual network (keeping its shortcut) barely moves its accuracy, "
            "while removing a layer from a plain network is disastrous. Here is what happens to this app's "
            "trained networks. Blocks that change the shape cannot be removed from a plain network at all: nothing "
            "would carry the signal past them."
        )
    )
    st.markdown(
        _(
            "Our regime differs from theirs. Their ResNet-110 was fully trained on CIFAR-10 (64,000 steps) and lost "
            "little from removing any single block except the downsampling ones. Our networks are trained for a "
            "few hundred steps on the built-in shapes, so read these bars as a measurement of these networks, not "
            "as a test of Veit et al.'s result. The networks are the short preset's: those of the full-batch recipe "
            "memorised 64 images and are at chance on held-out ones, so there is no accuracy for a lesion to take "
            "away."
        )
    )
    verdict = lesion_verdict(precomputed_lesions() or [])
    if verdict:
        st.markdown(
            verdict
            + " "
            + _(
                "The deeper network partly matches Veit et al.; the shallower does not. Two explanations fit, and "
                "this run cannot tell them apart: a deeper network has far more paths to spread its work over "
                "(2²⁷ in ResNet-56 against 2⁹ in ResNet-20), and a network this briefly trained may not yet "
                "have spread its work across its paths. Both are hypotheses."
            )
        )
    # the full-batch run's networks memorised 64 images (held-out accuracy at chance): nothing to lesion there
    lesion_run = "degradation"
    cards = [c for c in precomputed_cards() if c.run and c.run.endswith(lesion_run)]
    depths = sorted({c.config.depth for c in cards}) or [20, 56]
    state.keep_valid(state.LESION_DEPTH, depths, depths[-1])
    depth = st.radio(_("Depth"), depths, key=state.LESION_DEPTH, horizontal=True)
    chosen = sorted((c for c in cards if c.config.depth == depth), key=lambda c: not c.config.residual)
    results = [r for r in (precomputed_lesions() or []) if r.model_name.endswith(f"-{depth}")]
    if chosen and st.button(_("Re-run the lesion study live"), key="exp_lesion_run"):
        nets = [(card.config, cached_card_model(card).state_dict()) for card in chosen]
        submit_ui(LESION_JOB, tasks_experiments.lesion_job(nets, chosen[0].image_size), _("Lesion study"))
    live_results = job_panel(LESION_JOB, _("Lesion study"))
    if live_results:
        results = [r for r in live_results if r.model_name.endswith(f"-{depth}")] or results
    if not results:
        st.info(
            _(
                "No lesion results ship with this copy (`make assets`), and there are no trained networks to "
                "run it on: train the degradation preset first."
            )
        )
    else:
        lesion_meta = precomputed_run(lesion_run)
        if lesion_meta is not None:
            what = run_titles()[lesion_run]
            st.caption(
                _("Networks of the precomputed run: {what}.").format(what=what) + " " + recipe_caption(lesion_meta)
            )
        show_chart(figure(lesion_figure, results), key="exp_lesion_bars")
        show_chart(figure(removal_curve_figure, results), key="exp_lesion_curve")
        if any(r.baseline < 0.2 for r in results):
            st.caption(
                _("A network at chance accuracy (about 10%) has nothing to lose: read its bars with that in mind.")
            )

with tab_shatter:
    shattered_section("exp")
state.write_url("tab", "lesion_depth")
