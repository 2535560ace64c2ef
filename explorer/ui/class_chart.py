"""The class chart of a class experiment and what it says, live on every page that shows the experiment.

It polls the experiment's folder every ``POLL_S`` while the experiment is open (``ce.load``: three ``stat`` calls
while nothing changed) and draws what every session polling the same unchanged experiment shares.
"""

from __future__ import annotations

import streamlit as st

from explorer.charts.class_experiment import class_figure
from explorer.errors import PlainError
from explorer.experiments import class_experiment as ce
from explorer.experiments import class_verdict as cv
from explorer.i18n import _, get_language, translate
from explorer.ui import state
from explorer.ui.caches.results import figure
from explorer.ui.training_view import runs_root
from explorer.ui.widgets import show_chart

POLL_S = 2.0
_DRAWN: dict[tuple, tuple] = {}  # (id of the experiment, mine, language) -> (experiment, figure, words): read-only
_DRAWN_MAX = 64


def load_experiment(code: str) -> ce.Experiment | None:
    """The experiment, or None with its plain message shown."""
    try:
        return ce.load(runs_root(), code)
    except PlainError as e:
        st.error(translate(e.message))
        return None


def drawing(exp: ce.Experiment, mine: tuple[int, int] | None, language: str) -> tuple[dict, str]:
    """The class chart and the verdict under it, shared by every session that polls this experiment unchanged.

    ``ce.load`` hands out the same ``Experiment`` while its files have not changed, so that object keys what a poll
    draws: a poll of an unchanged experiment (every 2 s, on every student's page) neither rebuilds nor hashes the
    rows and recomputes no verdict. The figure and the words are shared read-only, as the figure cache's are.
    """
    key = (id(exp), mine, language)
    kept = _DRAWN.get(key)
    if kept is not None and kept[0] is exp:  # the object itself: an id is reused once its object is gone
        return kept[1], kept[2]
    rows = tuple((r["depth"], r["residual"], r["seed"], r["final_loss"], r["heldout_acc"]) for r in exp.rows())
    fig = figure(class_figure, exp.depths, rows, mine)
    words = "\n\n".join(translate(line) for line in cv.verdict(exp))  # a paragraph each
    if len(_DRAWN) >= _DRAWN_MAX:
        _DRAWN.clear()
    _DRAWN[key] = (exp, fig, words)
    return fig, words


def chart_ui(code: str, mine: tuple[int, int] | None) -> None:
    """The class chart and what it says, redrawn every POLL_S while the experiment is open; ``mine``: the
    student's own pair (depth, seed), ringed."""
    exp = load_experiment(code)
    if exp is None:
        return

    @st.fragment(run_every=POLL_S if exp.open else None)
    def chart() -> None:
        state.apply_language()  # a fragment rerun does not run app.py, which sets it for full runs
        exp = load_experiment(code)
        if exp is None:
            return
        fig, words = drawing(exp, mine, get_language())
        show_chart(fig, key="class_chart")
        st.markdown(words)

    st.subheader(_("The class chart"))
    chart()
