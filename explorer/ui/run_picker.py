"""One picker of saved runs for the live computations (Landscapes, Trust the map?): the best-trained run that fits
first, each run with its networks' accuracy, and a warning before computing on a network near chance.

A network's accuracy is its last held-out accuracy (what a saliency benchmark on held-out images needs), or
its final training accuracy (what a loss landscape of the training loss needs); runs rank by their networks'
mean, so a 25-step run that was stopped early is never the default.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import streamlit as st

from explorer.i18n import _
from explorer.training.runs import Run

NEAR_CHANCE = 0.15  # accuracy within this of chance (1 / classes) counts as "near chance"


def accuracies(run: Run, held_out: bool = True) -> dict[str, float]:
    """Each network's held-out accuracy (last evaluation; its training accuracy when never evaluated), or with
    ``held_out=False`` its final training accuracy (mean of the last 10 steps); nan when not measured."""
    out = {}
    for name, m in run.history.models.items():
        out[name] = m.eval_accuracy[-1] if held_out and m.eval_accuracy else m.final_accuracy()
    return out


def run_accuracy(run: Run, held_out: bool = True) -> float:
    """The mean accuracy of a run's networks (nan when none was measured)."""
    values = [a for a in accuracies(run, held_out).values() if not math.isnan(a)]
    return sum(values) / len(values) if values else math.nan


def best_first(runs: list[Run], fits: Callable[[Run], bool] | None = None, held_out: bool = True) -> list[Run]:
    """Runs that fit first, best-trained (then longest) first within each group; unmeasured ones last."""

    def rank(run: Run) -> tuple:
        acc = run_accuracy(run, held_out)
        return (fits is not None and not fits(run), math.isnan(acc), -(0.0 if math.isnan(acc) else acc),
                -run.history.step)  # fmt: skip

    return sorted(runs, key=rank)


def chance(run: Run) -> float:
    """Accuracy by guessing: one over the number of classes the run's networks tell apart."""
    classes = len(run.dataset.classes) if run.dataset is not None else 0
    if not classes:
        classes = max((c.num_classes for c in run.model_configs.values()), default=10)
    return 1.0 / max(classes, 1)


def near_chance(run: Run, network: str, held_out: bool = True) -> bool:
    """Whether ``network`` of ``run`` does hardly better than guessing."""
    acc = accuracies(run, held_out).get(network, math.nan)
    return not math.isnan(acc) and acc < chance(run) + NEAR_CHANCE


def _label(run: Run, held_out: bool) -> str:
    """The run as the picker shows it: name, folder, steps and its networks' accuracy."""
    acc = [a for a in accuracies(run, held_out).values() if not math.isnan(a)]
    if not acc:
        measured = _("accuracy not measured")
    elif max(acc) - min(acc) < 0.005 and held_out:
        measured = _("held-out accuracy {acc:.0%}").format(acc=acc[0])
    elif max(acc) - min(acc) < 0.005:
        measured = _("training accuracy {acc:.0%}").format(acc=acc[0])
    elif held_out:
        measured = _("held-out accuracy {low:.0%} to {high:.0%}").format(low=min(acc), high=max(acc))
    else:
        measured = _("training accuracy {low:.0%} to {high:.0%}").format(low=min(acc), high=max(acc))
    text = _("{name} ({folder}, {steps} steps): {measured}")
    return text.format(name=run.name, folder=run.path.name, steps=run.history.step, measured=measured)


def run_picker_ui(runs: list[Run], key: str, fits: Callable[[Run], bool] | None = None, held_out: bool = True) -> Run:
    """A selectbox of ``runs``, the best-trained run that ``fits`` selected by default, each shown with its
    networks' accuracy (held-out, or training). Its options (the session state and URL value under ``key``) are
    ``name (folder, N steps)`` in English, as links carry them."""
    ordered = best_first(runs, fits, held_out)
    labels = {f"{r.name} ({r.path.name}, {r.history.step} steps)": r for r in ordered}
    shown = {k: _label(r, held_out) for k, r in labels.items()}
    if st.session_state.get(key) not in labels:
        st.session_state.pop(key, None)  # a run that is gone: the best one
    return labels[st.selectbox(_("Run"), list(labels), key=key, format_func=shown.get)]


def chance_warning_ui(run: Run, networks: list[str], what: str, held_out: bool = True) -> None:
    """Warn before computing ``what`` on networks that do little better than guessing."""
    poor = [n for n in networks if near_chance(run, n, held_out)]
    if not poor:
        return
    acc = accuracies(run, held_out)
    first = (
        _("{networks}: {accuracy} of held-out images right")
        if held_out
        else _("{networks}: {accuracy} of training images right")
    )
    text = _(
        "{first}, near chance ({chance:.0%} by guessing among {classes} classes). Such a network has hardly "
        "learned, so {what} says little about a trained one. Pick a better-trained run above, or train this one "
        "longer."
    )
    first = first.format(networks=", ".join(poor), accuracy=", ".join(f"{acc[n]:.0%}" for n in poor))
    st.warning(text.format(first=first, chance=chance(run), classes=round(1 / chance(run)), what=what))
