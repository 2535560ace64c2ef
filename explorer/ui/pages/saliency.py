"""Can you trust the map? Every saliency method scored on held-out shapes with their true outlines (issue 18)."""

import pandas as pd
import streamlit as st

from explorer import tasks_experiments
from explorer.charts.saliency import METRIC_SHORT, WEIGHT_LABELS, examples_figure, method_label, metric_figure
from explorer.experiments.saliency import METRICS, centre_wins, randomisation_drop
from explorer.i18n import _
from explorer.ui import state
from explorer.ui.assets_cache import ASSET_RUNS, DEFAULT_RUN, found_runs, precomputed_run, precomputed_saliency
from explorer.ui.cache import figure
from explorer.ui.job_view import job_panel, submit_ui
from explorer.ui.lesson_sections import recipe_caption
from explorer.ui.run_picker import chance_warning_ui, run_picker_ui
from explorer.ui.training_view import runs_root
from explorer.ui.widgets import show_chart

ZHANG = "Zhang et al. 2018, *Top-down Neural Attention by Excitation Backprop* (IJCV)"
ARRAS = "Arras, Osman and Samek 2022, *CLEVR-XAI* (Information Fusion)"
PETSIUK = "Petsiuk, Das and Saenko 2018, *RISE* (BMVC)"
ADEBAYO = "Adebayo et al. 2018, *Sanity Checks for Saliency Maps* (NeurIPS)"
HOOKER = "Hooker et al. 2019, *A Benchmark for Interpretability Methods in Deep Neural Networks* (NeurIPS)"
LIVE_JOB = "saliency_job"  # this session's live computation on the engine
PER_IMAGE_S = {20: 0.12, 56: 0.3}  # CPU-s per image, every method and metric, one thread (`make assets`)


def metric_notes(results: list[dict]) -> dict[str, str]:
    """What each metric rewards and how it can be fooled, in plain words, with its source."""
    r = results[0]
    area = r["mask_area"]
    return {
        "pointing_game": _(
            "**Rewards** a map whose single brightest pixel lands on the object, within {tol} pixels "
            "({ZHANG}: 15 pixels at 224, scaled to {size}). **Fooled** by anything that peaks where objects "
            "usually are: the centre map below never looks at the image. It ignores the rest of the map."
        ).format(tol=r["tolerance_px"], size=r["image_size"], ZHANG=ZHANG),
        "mass_in_mask": _(
            "**Rewards** putting the map's positive mass inside the true outline ({ARRAS}). A flat map scores "
            "the outline's share of the image, {area:.0%} here. **Fooled** by maps that trace the object in "
            "the image whether or not the network uses it: that is why the randomised networks are shown."
        ).format(ARRAS=ARRAS, area=area),
        "deletion_auc": _(
            "**Rewards** a map whose top pixels, removed first ({step} steps, each pixel replaced by the "
            "dataset's mean colour), make the class probability fall fast: the area under that curve, "
            "lower is better ({PETSIUK}). **Fooled** by images made strange: the probability can fall "
            "because half-erased images look like nothing seen in training, not because the evidence went "
            "({HOOKER})."
        ).format(step=r["curve_steps"], PETSIUK=PETSIUK, HOOKER=HOOKER),
        "insertion_auc": _(
            "**Rewards** a map whose top pixels, put back first onto a mean-colour image, bring the class "
            "probability back fast: higher is better ({PETSIUK}). The mean colour, not RISE's blur, because "
            "a blurred flat shape still shows its colour and outline. **Fooled** by the same strange images; "
            "and Integrated Gradients and Occlusion were computed against this very baseline, which favours "
            "them a little."
        ).format(PETSIUK=PETSIUK),
    }


def results_table(results: list[dict], subset: str) -> pd.DataFrame:
    rows = []
    for r in results:
        for name, scores in (r.get(subset) or {}).items():
            if scores is None:
                continue
            row = {_("network"): r["network"], _("weights"): _(WEIGHT_LABELS[r["weights"]])}
            row[_("method")] = method_label(name)
            row |= {_(METRIC_SHORT[m]): round(scores[m], 3) for m in METRICS}
            rows.append(row)
    return pd.DataFrame(rows)


def centre_note(results: list[dict], subset: str) -> None:
    """Say, network by network, when the centre map wins the pointing game."""
    lines = []
    for r in results:
        wins = centre_wins(r, subset)
        if wins:
            lines.append(
                _("- {network} ({weights}): the centre map does as well as or better than {methods}.").format(
                    network=r["network"],
                    weights=_(WEIGHT_LABELS[r["weights"]]),
                    methods=", ".join(method_label(m) for m in wins),
                )
            )
    if lines:
        st.warning(
            _(
                "**The centre map wins the pointing game here.** A Gaussian at the middle of the image, the "
                "same for every image, points at the object at least as often as these methods, because the "
                "shapes are drawn near the middle and are large:"
            )
            + "\n"
            + "\n".join(lines)
        )
    else:
        st.success(_("Every method beats the centre map at the pointing game on these networks."))


def show_results(results: list[dict], key: str) -> None:
    correct = st.toggle(
        _("Only images the network classifies correctly"),
        key=f"{key}_{state.SALIENCY_CORRECT}",
        help=_("A map of a wrong answer explains the mistake, not the object: the scores are kept apart."),
    )
    subset = "methods_correct" if correct else "methods"
    accuracy = ", ".join(
        _("{network} ({weights}) {acc:.0%} of {n}").format(
            network=r["network"], weights=_(WEIGHT_LABELS[r["weights"]]), acc=r["accuracy"], n=r["images"]
        )
        for r in results
    )
    st.caption(_("Correctly classified among the benchmark's images: {list}.").format(list=accuracy))
    st.dataframe(results_table(results, subset), hide_index=True, height=320)
    centre_note(results, subset)
    drop = randomisation_drop(results, "pointing_game", subset)
    if all(t == t and r == r for t, r in drop.values()):  # both kinds of weights are there (no NaN)
        st.markdown(
            _(
                "**With the weights randomised** ({ADEBAYO}) a map that explains the network should lose its "
                "aim. Pointing game, trained networks against randomised ones (means):"
            ).format(ADEBAYO=ADEBAYO)
            + "\n"
            + "\n".join(f"- {method_label(m)}: {t:.2f} → {r:.2f}" for m, (t, r) in drop.items())
        )
    notes = metric_notes(results)
    for metric in METRICS:
        show_chart(figure(metric_figure, results, metric, subset), key=f"{key}_{metric}")
        st.markdown(notes[metric])
    # each trained network's image where its methods disagree most: plain beside residual
    examples = [(r["network"], r["examples"][0]) for r in results if r["weights"] == "trained" and r.get("examples")]
    if examples:
        st.subheader(_("Where the methods disagree most"))
        st.caption(
            _(
                "For each trained network, the correctly classified image whose five maps share the fewest of "
                "their top 10% pixels. The true outline is the second panel."
            )
        )
        for i, (network, e) in enumerate(examples):
            st.markdown(
                _("{network}: a {label}, {prob:.0%} sure.").format(
                    network=network, label=_(e["label"]), prob=e["probability"]
                )
            )
            show_chart(figure(examples_figure, e), key=f"{key}_example_{i}")


st.title(_("Can you trust the map?"))
st.caption(
    _(
        "The built-in shapes come with their true outlines. Here every method Explain offers is scored on "
        "held-out shapes against those outlines and against the network's own output, for a plain network "
        "beside its residual twin, trained and with randomised weights ({ADEBAYO}). Two maps that explain "
        "nothing set the bar: a random map and a Gaussian at the centre."
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
