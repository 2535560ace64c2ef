"""Loss landscapes (Li et al. 2018): the degradation runs' four networks at once, and one computed live."""

import math

import numpy as np
import pandas as pd
import streamlit as st

from explorer.charts.landscape import cross_section_figure, landscape_figure, landscape_range, line_figure
from explorer.experiments.landscape_records import describe
from explorer.i18n import N_, _, ngettext
from explorer.tasks import experiments as tasks_experiments
from explorer.ui import state
from explorer.ui.caches.assets import ASSET_RUNS, found_runs, precomputed_landscapes, precomputed_run
from explorer.ui.caches.results import figure
from explorer.ui.job_view import job_panel, submit_ui
from explorer.ui.lesson_sections import run_titles
from explorer.ui.run_picker import chance_warning_ui, run_picker_ui
from explorer.ui.training_view import runs_root
from explorer.ui.widgets import show_chart

LI = "Li, Xu, Taylor, Studer and Goldstein 2018, *Visualizing the Loss Landscape of Neural Nets* (NeurIPS)"
GOODFELLOW = (
    "Goodfellow, Vinyals and Saxe 2015, *Qualitatively Characterizing Neural Network Optimization Problems* (ICLR)"
)
VIEWS = (N_("Contour"), N_("3-D surface"))  # keys (URL); shown through _()
LIVE_JOB = "landscape_job"  # this session's live computation on the engine
BF16_SHARE = 0.45  # bfloat16's time against float32's (bench/bench_landscape.py)
CHANCE = math.log(10)  # the loss of guessing among ten classes
FOLDERS = {"degradation": "landscape", "degradation-full-batch": "landscape-full-batch"}  # assets/experiments/...
KEYS = {"degradation": "landscape_pre", "degradation-full-batch": "landscape_full"}  # chart keys per run


def _minima(n: int) -> str:
    return ngettext("{n} local minimum", "{n} local minima", n).format(n=n)


SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def big(v: float) -> str:
    """1560 -> '1,560'; 2.7e13 -> '2.7×10¹³'."""
    if v < 1e5:
        return f"{v:,.0f}" if v >= 10 else f"{v:.2f}"
    mantissa, exponent = f"{v:.1e}".split("e")
    return f"{mantissa}×10{str(int(exponent)).translate(SUPERSCRIPT)}"


def surface_notes(surfaces: list) -> list[str]:
    """What the surfaces show, in words made from their own numbers."""
    notes = []
    for s in surfaces:
        d = describe(s)
        if d["center_loss"] >= 0.9 * CHANCE:
            text = _(
                "**{network}** sits at chance: its loss at the trained weights is {loss:.2f}, about "
                "ln 10 = 2.30, the loss of guessing. Only {below:.1%} of the grid does better than "
                "guessing, and the loss climbs to {highest} at the edge: a plateau ringed by cliffs."
            )
            notes.append(
                text.format(network=s.network, loss=d["center_loss"], below=d["below_level"], highest=big(d["highest"]))
            )
        else:
            text = _(
                "**{network}** sits in a basin at loss {loss:.2g} ({minima} in the grid, {below:.1%} of it below "
                "chance); its walls reach {highest} at the edge."
            )
            notes.append(
                text.format(
                    network=s.network, loss=d["center_loss"], minima=_minima(d["local_minima"]),
                    below=d["below_level"], highest=big(d["highest"]),
                )
            )  # fmt: skip
    for depth in sorted({s.network.rpartition("-")[2] for s in surfaces}):
        pair = {s.network.partition("-")[0]: describe(s) for s in surfaces if s.network.endswith(f"-{depth}")}
        if {"Plain", "ResNet"} <= set(pair):
            plain, res = pair["Plain"]["below_10"], pair["ResNet"]["below_10"]
            if res > plain:
                text = _(
                    "At {depth} layers the residual network's basin is wider: the loss stays below 10 (the range Li "
                    "et al. plot) on {res:.0%} of its grid against {plain:.0%} for the plain one."
                )
            else:
                text = _(
                    "At {depth} layers the residual network's basin is narrower: the loss stays below 10 (the range "
                    "Li et al. plot) on {res:.0%} of its grid against {plain:.0%} for the plain one."
                )
            notes.append(text.format(depth=depth, res=res, plain=plain))
    return notes


def line_notes(lines: list) -> list[str]:
    notes = []
    for line in lines:
        if abs(line.loss[-1] - line.loss[0]) < 0.1:
            text = _(
                "**{network}**: flat from start to end ({start:.2f} to {end:.2f}): training never took it off chance."
            )
            notes.append(text.format(network=line.network, start=line.loss[0], end=line.loss[-1]))
        else:
            steps = np.diff(line.loss)
            if (steps <= 1e-3).all():
                text = _("**{network}**: down without a bump, from {start:.2f} to {end:.2g}.")
            else:
                text = _(
                    "**{network}**: down with a bump on the way (up to {peak:.2f}), from {start:.2f} to {end:.2g}."
                )
            peak = float(np.nanmax(line.loss[int(np.argmax(steps > 1e-3)) + 1 :]))  # the top after the first rise
            notes.append(text.format(network=line.network, start=line.loss[0], end=line.loss[-1], peak=peak))
    return notes


st.title(_("Loss landscapes"))
st.markdown(
    _(
        "Training moves a network's weights downhill on its loss. What does the ground look like "
        "around where it stopped? {LI} pick two random directions in weight space and measure the "
        "loss on a grid around the trained weights. Their directions are **filter-normalised**: "
        "every filter of every layer is scaled to the size of the same filter in the trained "
        "network, so that networks of different scales can be compared. They found ResNet-56 in a "
        "smooth, nearly convex bowl and the same network without shortcuts in a chaotic one, the more "
        "chaotic the deeper the plain network (their Fig. 5). Below are both degradation runs' networks: the "
        "short run, where Plain-56 never learned, and the full-batch run, where all four did."
    ).format(LI=LI)
)
st.markdown(
    _(
        "{GOODFELLOW} walked the straight line from a network's initial weights to its trained "
        "ones and found, for the networks of their day, a smooth descent without bumps. Under each "
        "run's surfaces is that line for its four networks (batch norm uses the statistics of the image "
        "subset at every point, as in training: the initial weights have no running statistics yet)."
    ).format(GOODFELLOW=GOODFELLOW)
)
c1, c2 = st.columns([2, 1])
state.keep_valid(state.LANDSCAPE_VIEW, VIEWS, VIEWS[0])
view = c1.radio(_("View"), VIEWS, key=state.LANDSCAPE_VIEW, horizontal=True, format_func=_)
state.write_url("view")
log = c2.toggle(
    _("Log scale"),
    value=True,
    key=state.LANDSCAPE_LOG,
    help=_(
        "Colour by log10 of the loss, up to 1000 (higher is drawn as 1000). Off: the loss itself up to 10, as Li et al. draw it."
    ),
)
kind = "surface" if view == VIEWS[1] else "contour"


def show_landscapes(surfaces: list, key: str) -> None:
    """Plain and residual of each depth side by side, every panel on one colour scale."""
    zrange = landscape_range(surfaces, log)
    for depth in sorted({s.network.rpartition("-")[2] for s in surfaces}, key=lambda d: int(d) if d.isdigit() else 0):
        pair = [s for s in surfaces if s.network.rpartition("-")[2] == depth]
        show_chart(figure(landscape_figure, pair, kind, log, zrange), key=f"{key}_{depth}_{kind}")
    show_chart(figure(cross_section_figure, surfaces, log), key=f"{key}_cross")
    rows = []
    for s in surfaces:
        d = describe(s)
        rows.append({
            _("network"): s.network,
            _("loss at the trained weights"): float(f"{d['center_loss']:.3g}"),  # 0.000145, not 0
            _("grid below chance loss (2.30)"): f"{d['below_level']:.1%}",
            _("grid below 10"): f"{d['below_10']:.1%}",
            _("local minima in the grid"): d["local_minima"],
            _("highest loss"): big(d["highest"]),
        })  # fmt: skip
    st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"{key}_table")


REGIME = {  # what to keep in mind per run (shown through _())
    "degradation": N_(
        "Read these against the paper with care. Our networks trained for {steps} steps on the "
        "built-in shapes (the degradation run), not for 300 epochs on CIFAR-10, and each point's "
        "loss is measured on {images} training images, to fit a few minutes of a laptop CPU. What "
        "does carry over: the loss at the trained weights is the training loss of the run, so a "
        "network the optimiser could not train (the deep plain one, in this run) has no basin to "
        "sit in at all, and the deeper networks' walls are far steeper (compare the highest "
        "losses). What we do not see is Li et al.'s chaotic, many-minima plain surface: theirs had "
        "been trained for 300 epochs; this Plain-56 never left the plateau. The full-batch run's Plain-56 "
        "did: see below."
    ),
    "degradation-full-batch": N_(
        "Here every network trained for {steps} steps on the same 64 shapes and memorised them, the deep "
        "plain one included, and each point's loss is measured on {images} of those training images: the "
        "loss at the trained weights is about the run's final training loss. So Plain-56 is a network that "
        "trained, as Li et al.'s were; compare its local minima and its share of the grid below chance "
        "with the residual networks'. It is still far from their regime: 64 images of 16 px, not 300 "
        "epochs on CIFAR-10."
    ),
}
ONE_MINIMUM = N_(
    "**No chaotic surface here.** At this grid every surface, Plain-56's included, has one local minimum, so "
    "Li et al.'s chaotic plain surface (their Fig. 5) does not appear. It may not for several reasons: depth "
    "(their plain surfaces were chaotic at 56 layers and more so at 110), data (50,000 CIFAR-10 images against "
    "our {train} shapes of {size} px), training length (300 epochs against our {steps} steps) and the grid itself "
    "({n} x {n} points over [-{span:g}, {span:g}]: wrinkles finer than its spacing fall between the points)."
)


def one_minimum_note(name: str, surfaces: list, run) -> str | None:
    """For a run whose networks all trained, what a chaotic surface's absence means, when every surface of the
    grid has one local minimum (counted by ``describe``); None otherwise."""
    if name != "degradation-full-batch" or not surfaces or run is None:
        return None
    if any(describe(s)["local_minima"] != 1 for s in surfaces):
        return None
    s0 = surfaces[0]
    return _(ONE_MINIMUM).format(
        train=run.train.train_size, size=run.train.image_size, steps=run.history.step, n=len(s0.x), span=s0.span
    )


def precomputed_section(name: str, what: str) -> bool:
    """One degradation run's precomputed surfaces, notes and init-to-trained lines; False when none ship."""
    surfaces, lines = precomputed_landscapes(FOLDERS[name])
    if not surfaces:
        return False
    key, run = KEYS[name], precomputed_run(name)
    st.header(_("Computed in advance: {what}").format(what=what))
    s0 = surfaces[0]
    st.caption(
        _(
            "{nx}x{ny} points over [-{span:g}, {span:g}] in each direction, loss on {images} "
            "training images (the same for every point), direction seed {seed}, {precision}. The cross "
            "marks the trained weights."
        ).format(nx=len(s0.x), ny=len(s0.y), span=s0.span, images=s0.images, seed=s0.seed, precision=s0.precision)
    )
    show_landscapes(surfaces, key)
    st.subheader(_("What our surfaces show"))
    st.markdown("\n".join(f"- {n}" for n in surface_notes(surfaces)))
    steps = run.history.step if run is not None else "?"
    st.markdown(_(REGIME[name]).format(steps=steps, images=s0.images))
    note = one_minimum_note(name, surfaces, run)
    if note:
        st.markdown(note)
    if lines:
        st.subheader(_("From the initial to the trained weights"))
        show_chart(figure(line_figure, lines, log), key=f"{key}_init")
        st.markdown("\n".join(f"- {n}" for n in line_notes(lines)))
    return True


shown = [precomputed_section(name, what) for name, what in run_titles().items()]
if not any(shown):
    st.info(_("No precomputed landscapes ship with this copy (`make assets`): compute one live below."))

st.header(_("Compute one live"))
runs = found_runs(runs_root(), ASSET_RUNS)
if not runs:
    st.info(_("No saved runs yet: train networks on the Train page, then come back."))
    st.stop()
run = run_picker_ui(runs, state.LANDSCAPE_RUN, held_out=False)  # the surface is of the training loss
if st.session_state.get(state.LANDSCAPE_NET) not in run.model_configs:
    st.session_state.pop(state.LANDSCAPE_NET, None)  # another run's network
network = st.selectbox(_("Network"), list(run.model_configs), key=state.LANDSCAPE_NET)
state.write_url("view", "landscape_run", "net")
twin = run.model_configs[network].twin().name
has_twin = twin in run.model_configs and twin != network
if st.session_state.get("_landscape_pair") != (run.path.name, network):  # a new pick: twin on if there is one
    st.session_state["_landscape_pair"] = (run.path.name, network)
    st.session_state[state.LANDSCAPE_TWIN] = has_twin
chance_warning_ui(run, [network] + ([twin] if has_twin else []), _("its loss landscape"), held_out=False)
c1, c2, c3 = st.columns(3)
grid = c1.select_slider(_("Grid points per side"), [5, 7, 11, 15, 21, 31], value=11, key=state.LANDSCAPE_GRID)
images = c2.select_slider(_("Training images"), [32, 64, 128, 256], value=64, key=state.LANDSCAPE_IMAGES)
fast = c3.toggle(_("bfloat16 (about 2x faster)"), value=True, key=state.LANDSCAPE_FAST)
with_twin = st.checkbox(_("Also its twin, {twin}").format(twin=twin), key=state.LANDSCAPE_TWIN, disabled=not has_twin)
count = 2 if with_twin and has_twin else 1
# bench/bench_landscape.py: 256 images, float32, one core: ~0.2 CPU-s a point for ResNet-20, ~0.44 for ResNet-56
per_point = 0.2 * (run.model_configs[network].depth + 10) / 30 * (BF16_SHARE if fast else 1.0)
estimate = count * grid * grid * images / 256 * per_point
st.caption(
    _(
        "{points} points, each one pass over {images} images: about {estimate:.0f} s on an idle CPU "
        "core, longer when the server is busy. Stop at any time: networks already done stay on "
        "screen."
    ).format(points=count * grid * grid, images=images, estimate=estimate)
)
if st.button(_("Compute"), key="landscape_compute", type="primary"):
    names = [network] + ([twin] if with_twin and has_twin else [])
    job = tasks_experiments.landscape_job(run.path, names, grid, images, "bfloat16" if fast else "float32")
    submit_ui(LIVE_JOB, job, _("Loss landscape"))
    st.session_state[state.LANDSCAPE_RESULT] = run.path.name
surfaces = job_panel(LIVE_JOB, _("Loss landscape"))
if surfaces:
    st.caption(_("Computed live from run {run}.").format(run=st.session_state.get(state.LANDSCAPE_RESULT)))
    show_landscapes(surfaces, "landscape_live")
