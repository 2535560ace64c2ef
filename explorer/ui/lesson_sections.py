"""Figures shared by the Learn and Experiments pages: degradation, gradient norms, shattered gradients."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from explorer.charts.gradients import gradient_norms_figure, shattered_figure
from explorer.charts.training import loss_curves
from explorer.gradients import NO_VANISHING_NOTE, SHATTERED_NOTE, depth_sweep, shattered_sweep
from explorer.i18n import _
from explorer.recorders import History
from explorer.ui.cache import precomputed_run, precomputed_sweeps
from explorer.ui.widgets import show_chart


def degradation_verdict(losses: dict[str, float]) -> str:
    """What the final training losses of a degradation run show, in plain words (measured, not assumed)."""
    need = ("Plain-20", "Plain-56", "ResNet-20", "ResNet-56")
    if not all(k in losses for k in need):
        return ""
    p20, p56, r20, r56 = (losses[k] for k in need)
    parts = []
    if p56 > p20:
        parts.append(
            _(
                "the deeper plain network trained **worse** (Plain-56 {p56:.2f} against Plain-20 {p20:.2f}): "
                "the degradation problem"
            ).format(p56=p56, p20=p20)
        )
        if p56 > 0.95 * math.log(10):
            parts.append(
                _(
                    "in a run this short Plain-56 has not even started to learn (2.30 is chance for ten classes); "
                    "in the paper's full CIFAR-10 training (Fig. 6) plain-56 does learn, but stays behind plain-20"
                )
            )
    else:
        text = _("this time the deeper plain network did not train worse (Plain-56 {p56:.2f}, Plain-20 {p20:.2f})")
        parts.append(text.format(p56=p56, p20=p20))
    if r56 < p56:
        parts.append(_("with shortcuts the 56-layer network reached {r56:.2f}, below Plain-56").format(r56=r56))
    else:
        parts.append(_("ResNet-56 ended at {r56:.2f}, not below Plain-56").format(r56=r56))
    return _("Final training loss: {findings}.").format(findings=_("; ").join(parts))


def degradation_summary(history: History) -> None:
    """The final training (and held-out) numbers of each network, and what they show."""
    rows = []
    for name, h in history.models.items():
        rows.append(
            {
                _("network"): name,
                _("final training loss"): round(h.final_loss(), 3),
                _("training accuracy"): f"{sum(h.accuracy[-10:]) / max(len(h.accuracy[-10:]), 1):.0%}",
                _("held-out accuracy"): f"{h.eval_accuracy[-1]:.0%}" if h.eval_accuracy else "–",
            }
        )
    verdict = degradation_verdict(history.final_losses())
    if verdict:
        st.markdown(verdict)
    st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"deg_table_{id(history)}")


def degradation_section() -> None:
    """Learn, section 1: the precomputed degradation run's training curves."""
    run = precomputed_run("degradation")
    if run is None:
        st.info(
            _("The precomputed run is missing from assets/ (`make assets` makes it).")
            + " "
            + _("You can train it on the Experiments page.")
        )
        return
    show_chart(loss_curves(run.history), key="learn_deg_loss")
    degradation_summary(run.history)
    st.caption(
        _(
            "{steps} steps of batch {batch} on the built-in shapes, trained on a CPU in {secs:.0f} s by `make assets`."
        ).format(steps=run.history.step, batch=run.train.batch_size, secs=run.history.wall_s)
    )


def _live(prefix: str, label: str, run):
    """A button that re-runs ``run(progress)`` with a progress bar (a Stop button ends it); None until clicked."""
    if not st.button(label, key=f"{prefix}_rerun"):
        return None
    st.button(_("Stop"), key=f"{prefix}_rerun_stop")
    bar = st.progress(0.0, text=_("Measuring…"))
    text = _("network {i} of {n}")
    out = run(lambda i, n: bar.progress(i / n, text=text.format(i=i, n=n)))
    bar.empty()
    return out


def gradients_section(prefix: str = "learn", depths: tuple[int, ...] = (56,)) -> None:
    """Per-layer gradient norms at initialisation, plain against residual (precomputed, re-runnable)."""
    sweep, _shattered = precomputed_sweeps()
    live = _live(prefix + "_grad", _("Measure again now"), lambda p: depth_sweep(depths, progress=p))
    results = live or [r for r in (sweep or []) if r.depth in depths]
    if not results:
        st.info(_("The precomputed sweep is missing from assets/ (`make assets`): measure it now with the button."))
        return
    show_chart(gradient_norms_figure(results), key=f"{prefix}_gradnorms")
    st.caption(_(NO_VANISHING_NOTE))


def depth_sweep_section(prefix: str) -> None:
    """Gradient norms across depths 20..110 at initialisation, plain against residual."""
    sweep, _shattered = precomputed_sweeps()
    live = _live(prefix + "_sweep", _("Re-run the depth sweep live (about 30 s)"), lambda p: depth_sweep(progress=p))
    results = live or sweep
    if not results:
        st.info(_("The precomputed sweep is missing from assets/ (`make assets`): run it live with the button."))
        return
    show_chart(gradient_norms_figure(results), key=f"{prefix}_depth_sweep")
    st.caption(_(NO_VANISHING_NOTE))


def shattered_section(prefix: str) -> None:
    """Balduzzi et al.'s probe at initialisation, plain against residual, at three depths."""
    st.markdown(_(SHATTERED_NOTE))
    _sweep, shattered = precomputed_sweeps()
    live = _live(
        prefix + "_shatter", _("Re-run the probe live (about a minute)"), lambda p: shattered_sweep(progress=p)
    )
    results = live or shattered
    if not results:
        st.info(_("The precomputed probe is missing from assets/ (`make assets`): run it live with the button."))
        return
    show_chart(shattered_figure(results), key=f"{prefix}_shattered")
    rows = [{_("network"): r.name, _("autocorrelation at lag 1"): round(r.lag1, 2)} for r in results]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"{prefix}_shattered_table")
