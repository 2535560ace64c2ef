"""Figures shared by the Learn and Experiments pages: degradation, gradient norms, shattered gradients."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from explorer.charts.gradients import gradient_norms_figure, shattered_figure
from explorer.charts.misconceptions import ratio_text
from explorer.charts.training import loss_curves
from explorer.engine.records import Job
from explorer.i18n import N_, _
from explorer.interpret.gradient_results import first_last_ratios
from explorer.training.history import History
from explorer.ui.caches.assets import precomputed_run, precomputed_sweeps
from explorer.ui.caches.results import figure
from explorer.ui.job_view import job_panel, submit_ui
from explorer.ui.widgets import show_chart, show_table

NO_VANISHING_NOTE = N_(  # shown through _()
    "With batch normalisation a deep plain network's gradients do not vanish. At initialisation they do the "
    "opposite: they grow towards the input, the first layer's about a thousand times the last's in Plain-56 "
    "and about 6 million times in Plain-110 (batch norm without shortcuts makes gradients explode with depth: "
    "Yang et al. 2019, 'A Mean Field Theory of Batch Normalization'), while in a ResNet the first/last ratio "
    "stays within about one order of magnitude (from layer to layer its norms still span up to about 50 times "
    "in ResNet-110). "
    "He et al. (2015, section 4.1) checked their plain nets during training and also saw no vanishing, yet "
    "the deeper plain nets trained worse: the degradation is an optimisation difficulty, not vanishing "
    "gradients. Its cause is still a conjecture: He et al. suggest that solvers have difficulty approximating "
    "identity mappings with stacks of nonlinear layers; shattered gradients (Balduzzi et al. 2017) are "
    "another explanation."
)
SHATTERED_NOTE = N_(  # shown through _()
    "The derivative of the network's output along a line of inputs, x(t) = x0 + t d. In a deep plain "
    "network it decorrelates from one point to the next like white noise (autocorrelation near 0 at lag 1); "
    "in a residual network it stays correlated (Balduzzi et al. 2017). Batch norm uses statistics from one "
    "data batch (eval mode), so every point's gradient is its own. The traces are scaled to unit spread to "
    "compare their shapes, which hides their size: the table gives the mean |d output / dt| of each network."
)

DATA_NAMES = {"cifar10": "CIFAR-10", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}  # dataset id -> its name

RUNS = {  # asset run -> what it shows (shown through _(): run_titles())
    "degradation": N_("the short live preset"),
    "degradation-full-batch": N_("a full-batch recipe on 64 images"),
}


def run_titles() -> dict[str, str]:
    """The precomputed degradation runs (assets/runs) and what each shows, in the session's language."""
    return {name: _(what) for name, what in RUNS.items()}


def degradation_verdict(losses: dict[str, float]) -> str:
    """What the final training losses of a degradation run show, in plain words (measured, not assumed)."""
    need = ("Plain-20", "Plain-56", "ResNet-20", "ResNet-56")
    if not all(k in losses for k in need):
        return ""
    p20, p56, r20, r56 = (losses[k] for k in need)
    parts = []
    if p56 > 0.95 * math.log(10):
        text = _(
            "Plain-56 never left chance ({p56:.2f}; 2.30 is chance for ten classes) while Plain-20 reached "
            "{p20:.2f}. That is a failure to *start*, not yet the paper's degradation, where the deeper plain "
            "net does learn but ends with a higher training error (He et al. 2015, Fig. 1)"
        )
        parts.append(text.format(p56=p56, p20=p20))
    elif p56 > p20:
        text = _(
            "Plain-56 learned but ended **above** Plain-20 ({p56:.2g} against {p20:.2g}): the deeper plain "
            "network's training loss fell more slowly. He et al. 2015, Fig. 1 compares training *error*: see the "
            "training accuracies in the table"
        )
        parts.append(text.format(p56=p56, p20=p20))
    else:
        text = _("this time the deeper plain network did not train worse (Plain-56 {p56:.2f}, Plain-20 {p20:.2f})")
        parts.append(text.format(p56=p56, p20=p20))
    if r56 < p56:
        parts.append(_("with shortcuts the 56-layer network reached {r56:.3g}, below Plain-56").format(r56=r56))
    else:
        parts.append(_("ResNet-56 ended at {r56:.2f}, not below Plain-56").format(r56=r56))
    return _("Final training loss: {findings}.").format(findings=_("; ").join(parts))


def recipe_caption(run) -> str:
    """The recipe a run was trained with, in one line: optimiser, learning rate, steps, batch and data."""
    t = run.train
    optimiser = {"adamw": "AdamW", "sgd": _("SGD with momentum {m}").format(m=t.momentum)}.get(t.optimizer, t.optimizer)
    schedule = {"cosine": _("cosine decay"), "constant": _("constant"), "step": _("divided by 10 at steps {steps}")}
    schedule = schedule[t.schedule].format(steps=", ".join(map(str, t.milestones)))
    warmup = _(", {n} warm-up steps").format(n=t.warmup) if t.warmup else ""
    info = run.meta.get("dataset", {}) if hasattr(run, "meta") else {}
    size = t.image_size or info.get("image_size", "")
    if t.dataset == "shapes":
        data = _("the built-in shapes")
    else:  # a torchvision set by its name, an image folder by its own name (never a server path)
        data = DATA_NAMES.get(t.dataset, Path(str(t.dataset)).name)
    if t.train_size:
        images = _("{n:,} images of {data}").format(n=t.train_size, data=data)
    else:
        images = _("the images of {data}").format(data=data)
    full = _(" (the whole set at every step: full-batch)") if t.train_size and t.batch_size >= t.train_size else ""
    augment = _(", pad-crop-flip augmentation") if t.augment else ""
    text = _(
        "Recipe: {optimiser}, learning rate {lr:g} ({schedule}{warmup}), weight decay {wd:g}; "
        "{steps} steps of batch {batch} on {images} at {size} px{full}, seed {seed}"
        "{augment}. Trained on a CPU by `make assets`."
    )  # no duration: the runs record wall time only, which says more about the machine's load than the recipe
    return text.format(
        optimiser=optimiser, lr=t.lr, schedule=schedule, warmup=warmup, wd=t.weight_decay, steps=run.history.step,
        batch=t.batch_size, images=images, size=size, full=full, seed=t.seed, augment=augment,
    )  # fmt: skip


def memorisation_note(history: History) -> str:
    """A warning, from the run's own numbers, when networks fit their training images but not held-out ones."""
    held = [h.eval_accuracy[-1] for h in history.models.values() if h.eval_accuracy]
    fitted = [h.final_accuracy() for h in history.models.values() if h.accuracy]
    if not held or not fitted or max(held) >= 0.2 or max(fitted) < 0.9:
        return ""
    text = _(
        "Held-out accuracy stays near chance (at most {held:.0%}): these networks memorised their few "
        "training images. This run measures how well each network can *fit* its training set, which is "
        "optimisation, the question of the degradation problem; it says nothing about generalisation."
    )
    return text.format(held=max(held))


def degradation_summary(history: History, key: str | None = None) -> None:
    """The final training (and held-out) numbers of each network, and what they show."""
    rows = []
    for name, h in history.models.items():
        rows.append(
            {
                _("network"): name,
                _("final training loss"): float(f"{h.final_loss():.3g}"),  # 0.000145, not 0
                _("training accuracy"): f"{h.final_accuracy():.0%}",
                _("held-out accuracy"): f"{h.eval_accuracy[-1]:.0%}" if h.eval_accuracy else "–",
            }
        )
    verdict = degradation_verdict(history.final_losses())
    if verdict:
        st.markdown(verdict)
    note = memorisation_note(history)
    if note:
        st.markdown(note)
    show_table(rows, key=key or f"deg_table_{id(history)}")


def degradation_section(prefix: str = "learn") -> None:
    """Both precomputed degradation runs, each captioned with its recipe: the short preset and the full-batch one."""
    shown = 0
    for name, what in run_titles().items():
        run = precomputed_run(name)
        if run is None:
            continue
        shown += 1
        st.subheader(_("{what}: {steps} steps").format(what=what[:1].upper() + what[1:], steps=run.history.step))
        show_chart(figure(loss_curves, run.history), key=f"{prefix}_deg_loss_{name}")
        degradation_summary(run.history, key=f"{prefix}_deg_table_{name}")
        st.caption(recipe_caption(run))
    if not shown:
        st.info(
            _(
                "The precomputed runs are missing from assets/ (`make assets` makes them). "
                "You can train the short one on the Experiments page."
            )
        )


def _sweep_job(sweep: str, depths: tuple[int, ...] | None = None) -> Job:
    """``tasks_experiments.sweep_job``, imported when a re-run is asked for: it loads torch, a job's identity Dask."""
    from explorer.tasks import experiments as tasks_experiments

    return tasks_experiments.sweep_job(sweep, depths)


def _live(prefix: str, label: str, job: Callable[[], Job]):
    """A button that re-runs a sweep as a job on the engine (progress and a real Stop); its results, or None.
    ``job`` makes the job once the button is pressed."""
    if st.button(label, key=f"{prefix}_rerun"):
        submit_ui(f"{prefix}_job", job(), label)
    return job_panel(f"{prefix}_job", _("Measuring"))


def ratio_table(results, key: str) -> None:
    """First layer's gradient norm over the last's, per depth, plain beside residual (above 1: growing towards the input)."""
    by_depth: dict[int, dict[str, str]] = {}
    for row in first_last_ratios(results):
        kind = "ResNet" if row["residual"] else _("plain")
        d = by_depth.setdefault(row["depth"], {_("depth"): row["depth"]})
        d[_("{kind}: first / last").format(kind=kind)] = ratio_text(row["ratio"], html=False)  # as the chart writes it
        d[f"{kind}: {row['first_layer']}, {row['last_layer']}"] = ", ".join(
            ratio_text(row[end], html=False) for end in ("first", "last")
        )
    show_table(list(by_depth.values()), key=key)
    st.caption(
        _(
            "First / last: the gradient norm of the first layer (the stem's conv1) divided by the last's (fc). "
            "Far above 1, the gradient grows towards the input (explodes); far below 1, it vanishes."
        )
    )


def _sweep_section(
    key: str, chart_key: str, label: str, job: Callable[[], Job], depths: tuple[int, ...] | None, missing: str
) -> None:
    """Gradient norms per layer at initialisation (precomputed for ``depths``, or all), a live re-run, the ratios."""
    sweep, _shattered = precomputed_sweeps()
    live = _live(key, label, job)
    results = live or [r for r in (sweep or []) if (depths is None or r.depth in depths) and not r.preact]
    if not results:
        st.info(missing)
        return
    show_chart(figure(gradient_norms_figure, results), key=chart_key)
    ratio_table(results, key=f"{chart_key}_ratios")
    st.caption(_(NO_VANISHING_NOTE))


def gradients_section(prefix: str = "learn", depths: tuple[int, ...] = (56,)) -> None:
    """Per-layer gradient norms at initialisation, plain against residual (precomputed, re-runnable)."""
    missing = _("The precomputed sweep is missing from assets/ (`make assets`): measure it now with the button.")
    job = functools.partial(_sweep_job, "depth", depths)
    _sweep_section(f"{prefix}_grad", f"{prefix}_gradnorms", _("Measure again now"), job, depths, missing)


def depth_sweep_section(prefix: str) -> None:
    """Gradient norms across depths 20..110 at initialisation, plain against residual."""
    label = _("Re-run the depth sweep live (about 30 s)")
    missing = _("The precomputed sweep is missing from assets/ (`make assets`): run it live with the button.")
    _sweep_section(
        f"{prefix}_sweep", f"{prefix}_depth_sweep", label, functools.partial(_sweep_job, "depth"), None, missing
    )


def shattered_section(prefix: str) -> None:
    """Balduzzi et al.'s probe at initialisation, plain against residual, at three depths."""
    st.markdown(_(SHATTERED_NOTE))
    _sweep, shattered = precomputed_sweeps()
    live = _live(
        prefix + "_shatter", _("Re-run the probe live (about a minute)"), functools.partial(_sweep_job, "shattered")
    )
    results = live or shattered
    if not results:
        st.info(_("The precomputed probe is missing from assets/ (`make assets`): run it live with the button."))
        return
    show_chart(figure(shattered_figure, results), key=f"{prefix}_shattered")
    rows = [
        {
            _("network"): r.name,
            _("autocorrelation at lag 1"): round(r.lag1, 2),
            _("mean |d output / dt|"): ratio_text(r.mean_abs_slope, html=False),
        }
        for r in results
    ]
    show_table(rows, key=f"{prefix}_shattered_table")


def lesion_verdict(results) -> str:
    """What removing one block costs each residual network, counted from the lesion results (points of accuracy)."""
    parts = []
    for r in results:
        drops = [b.drop for b in r.blocks if b.drop is not None]
        if not r.residual or not drops:
            continue
        text = _("{network} loses 20 points or more on {big} of its {n} blocks and under 6 points on {small}")
        big, small = sum(d >= 0.2 for d in drops), sum(d < 0.06 for d in drops)
        parts.append(text.format(network=r.model_name, big=big, n=len(drops), small=small))
    return _("Removing one block: {findings}.").format(findings=_("; ").join(parts)) if parts else ""
