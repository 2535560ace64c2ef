"""Can you trust the map? Every saliency method scored on held-out shapes with their true outlines."""

import streamlit as st

from explorer.charts.saliency import WEIGHT_LABELS, examples_figure, metric_figure
from explorer.experiments.saliency import METRICS
from explorer.i18n import _
from explorer.tasks import experiments as tasks_experiments
from explorer.ui import saliency_text as text
from explorer.ui import state
from explorer.ui.caches.assets import ASSET_RUNS, DEFAULT_RUN, found_runs, precomputed_run, precomputed_saliency
from explorer.ui.caches.results import figure
from explorer.ui.job_view import job_panel, submit_ui
from explorer.ui.lesson_sections import recipe_caption
from explorer.ui.run_picker import chance_warning_ui, run_picker_ui
from explorer.ui.training_view import runs_root
from explorer.ui.widgets import show_chart

ADEBAYO = text.ADEBAYO
LIVE_JOB = "saliency_job"  # this session's live computation on the engine
PER_IMAGE_S = {20: 0.50, 56: 1.0}  # CPU-s per image, every method and metric, one thread (`make assets`)


def subset_results(results: list[dict], correct: bool) -> list[dict]:
    """The results a view shows: the correct-only view leaves the randomised networks out (see its caption)."""
    return [r for r in results if not (correct and r["weights"] == "randomised")]


def correct_only_caption(results: list[dict]) -> str | None:
    randomised = [r for r in results if r["weights"] == "randomised"]
    if not randomised:
        return None
    counts = ", ".join(str(r["correct"]) for r in randomised)
    return _(
        "This view leaves the randomised networks out: a network with random weights gets about one image in "
        "ten right by luck ({counts} of {n} here), too few to average, and picked by chance, not by what the "
        "map shows. Their scores on all images are in the other view."
    ).format(counts=counts, n=randomised[0]["images"])


def show_notes(results: list[dict], subset: str) -> None:
    wins, centre = text.centre_text(results, subset)
    (st.warning if wins else st.success)(centre)
    for paragraph in (text.left_out(results), text.randomisation_text(results), text.edges_text(results)):
        if paragraph:
            st.markdown(paragraph)


def show_examples(results: list[dict], key: str) -> None:
    """Each trained network's image where its methods disagree most: plain beside residual."""
    examples = [(r["network"], r["examples"][0]) for r in results if r["weights"] == "trained" and r.get("examples")]
    if not examples:
        return
    st.subheader(_("Where the methods disagree most"))
    st.caption(
        _(
            "For each trained network, the correctly classified image whose {n} maps share the fewest of "
            "their top 10% pixels. The true outline is the second panel."
        ).format(n=len(examples[0][1]["maps"]))
    )
    for i, (network, e) in enumerate(examples):
        st.markdown(
            _("{network}: a {label}, {prob:.0%} sure.").format(
                network=network, label=_(e["label"]), prob=e["probability"]
            )
        )
        show_chart(figure(examples_figure, e), key=f"{key}_example_{i}")


def show_results(results: list[dict], key: str) -> None:
    correct = st.toggle(
        _("Only images the network classifies correctly"),
        key=f"{key}_{state.SALIENCY_CORRECT}",
        help=_("A map of a wrong answer explains the mistake, not the object: the scores are kept apart."),
    )
    subset = "methods_correct" if correct else "methods"
    shown = subset_results(results, correct)
    if correct and (why := correct_only_caption(results)):
        st.caption(why)
    accuracy = ", ".join(
        text.marked(
            r,
            _("{network} ({weights}) {acc:.0%} of {n}").format(
                network=r["network"], weights=_(WEIGHT_LABELS[r["weights"]]), acc=r["accuracy"], n=r["images"]
            ),
        )
        for r in shown
    )
    st.caption(_("Correctly classified among the benchmark's images: {list}.").format(list=accuracy))
    st.dataframe(text.results_table(shown, subset), hide_index=True, height=320)
    show_notes(shown, subset)
    notes = text.metric_notes(results)
    for metric in METRICS:
        if all(metric in ((r.get(subset) or {}).get("random") or {}) for r in shown):  # older results lack ROAD's
            show_chart(figure(metric_figure, shown, metric, subset), key=f"{key}_{metric}")
            st.markdown(notes[metric])
    if removal := text.removal_text(results):
        st.markdown(removal)
    show_examples(results, key)


st.title(_("Can you trust the map?"))
st.caption(
    _(
        "The built-in shapes come with their true outlines. Here every method Explain offers is scored on "
        "held-out shapes against those outlines and against the network's own output, for a plain network "
        "beside its residual twin, trained and with randomised weights ({ADEBAYO}), by four measures: the "
        "pointing game, the map's share inside the outline, and deletion and insertion (with two ways of "
        "removing pixels). Two maps that explain nothing set the bar: a random map and a Gaussian at the centre."
    ).format(ADEBAYO=ADEBAYO)
)
results = precomputed_saliency()
run = precomputed_run(DEFAULT_RUN)
if results and run is not None:
    held = ", ".join(f"{n} {h.eval_accuracy[-1]:.1%}" for n, h in run.history.models.items() if h.eval_accuracy)
    st.markdown(_("Networks of the run **{run}**; held-out accuracy: {held}.").format(run=run.name, held=held))
    st.caption(recipe_caption(run))
    show_results(results, "saliency_pre")
else:
    st.info(_("The precomputed benchmark is missing: `make assets` makes it. You can compute one live below."))

st.header(_("Compute it live"))
runs = found_runs(runs_root(), ASSET_RUNS)
if not runs:
    st.info(_("No saved runs yet: train networks on the Train page, then come back."))
    st.stop()
live = run_picker_ui(runs, state.SALIENCY_RUN, fits=lambda r: r.train.dataset == "shapes")  # best-trained first
if live.train.dataset != "shapes":
    st.info(_("The benchmark needs the built-in shapes, whose true outlines it scores against: pick a shapes run."))
    st.stop()
names = list(live.model_configs)
if not set(st.session_state.get(state.SALIENCY_NETS) or []) <= set(names):
    st.session_state.pop(state.SALIENCY_NETS, None)
chosen = st.multiselect(_("Networks"), names, default=names, key=state.SALIENCY_NETS)
chance_warning_ui(live, chosen, _("the benchmark"))
c1, c2 = st.columns(2)
images = c1.select_slider(_("Held-out images"), [16, 32, 64, 128, 256], value=64, key=state.SALIENCY_IMAGES)
randomise = c2.checkbox(_("Also with randomised weights"), value=True, key=state.SALIENCY_RANDOM)
per = sum(PER_IMAGE_S[56 if live.model_configs[n].depth > 32 else 20] for n in chosen) * (2 if randomise else 1)
st.caption(
    _("About {s:.0f} s on an idle CPU core, longer when the server is busy. Stop keeps what is done.").format(
        s=per * images
    )
)
if st.button(_("Compute"), key="saliency_compute", type="primary", disabled=not chosen):
    job = tasks_experiments.saliency_job(live.path, chosen, images, 0, randomise)
    submit_ui(LIVE_JOB, job, _("Saliency benchmark"))
live_results = job_panel(LIVE_JOB, _("Saliency benchmark"))
if live_results:
    show_results(live_results, "saliency_live")
