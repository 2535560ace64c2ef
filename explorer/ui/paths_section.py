"""The Gradients page's section on the gradient by path length (Veit et al. 2016, Fig. 6): the precomputed figure,
what it shows in plain words, and a live computation for any saved run as a job on the engine."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer.charts.paths import path_lengths_figure
from explorer.experiments.path_lengths import TARGET_SE
from explorer.i18n import N_, _
from explorer.interpret.paths import SHARE, PathResult
from explorer.tasks.paths import paths_job
from explorer.ui import state
from explorer.ui.caches.assets import ASSET_RUNS, found_runs, precomputed_path_lengths
from explorer.ui.caches.results import figure
from explorer.ui.job_view import job_panel, submit_ui
from explorer.ui.training_view import runs_root
from explorer.ui.widgets import show_chart

VEIT = (
    "Veit, Wilber and Belongie 2016, *Residual Networks Behave Like Ensembles of Relatively Shallow Networks* "
    "(NeurIPS), section 5 and Fig. 6"
)
VEIT_BLOCKS, VEIT_RANGE = 54, (5, 17)  # their ResNet-110 on CIFAR-10: 90% of the gradient in paths of 5-17 blocks
WEIGHTS = (N_("at initialisation"), N_("trained (the degradation run)"))  # shown through _()
LIVE_JOB = "paths_job"


def _split(results: dict[str, PathResult]) -> tuple[list[PathResult], list[PathResult]]:
    """(residual networks by depth, plain twins by depth): a plain network's one path has no split."""
    ordered = sorted(results.values(), key=lambda r: r.blocks)
    return [r for r in ordered if r.paths[0] == 1], [r for r in ordered if r.paths[0] == 0]


def path_notes(results: list[PathResult]) -> list[str]:
    """What the figure shows per network, in words made from its own numbers."""
    notes = []
    for r in results:
        lo, hi = r.effective_range
        text = _(
            "**{name}** ({n} blocks): {pct:.0%} of the gradient flows through paths of {lo} to {hi} blocks, {plo:.0%} to "
            "{phi:.0%} of its depth; paths shorter than half the network (under {half:g} blocks) carry "
            "{share:.1%} of it."
        )
        notes.append(
            text.format(
                name=r.network, n=r.blocks, pct=SHARE, lo=lo, hi=hi, plo=lo / r.blocks, phi=hi / r.blocks, half=r.blocks / 2,
                share=r.share_shorter_than_half,
            )
        )  # fmt: skip
    return notes


def comparison_table(rows: list[tuple[str, PathResult]]) -> pd.DataFrame:
    """Per network: nominal blocks, effective range, share in paths shorter than half; Veit et al.'s row last."""
    out = []
    for label, r in rows:
        lo, hi = r.effective_range
        out.append({
            _("network"): f"{r.network} ({label})",
            _("residual blocks"): r.blocks,
            _("effective range (blocks)"): f"{lo}–{hi}",
            _("as a share of the depth"): f"{lo / r.blocks:.0%}–{hi / r.blocks:.0%}",
            _("gradient in paths shorter than half"): f"{r.share_shorter_than_half:.1%}",
        })  # fmt: skip
    lo, hi = VEIT_RANGE
    out.append({
        _("network"): _("ResNet-110, CIFAR-10 (Veit et al. 2016)"),
        _("residual blocks"): VEIT_BLOCKS,
        _("effective range (blocks)"): f"{lo}–{hi}",
        _("as a share of the depth"): f"{lo / VEIT_BLOCKS:.0%}–{hi / VEIT_BLOCKS:.0%}",
        _("gradient in paths shorter than half"): "—",
    })  # fmt: skip
    return pd.DataFrame(out)


def _intro() -> None:
    st.markdown(
        _(
            "A network of n residual blocks holds 2^n paths: at every block the signal goes either through the "
            "residual branch F or along the shortcut, and a path's length is the number of branches it crosses. "
            "{VEIT} measured how much of the gradient each length carries: forward a batch as usual, then in the "
            "backward pass let the gradient cross k randomly chosen blocks through F only and the others through "
            "the shortcut only. Most paths have a middling length (a), but a path's gradient shrinks fast with its "
            "length (b), so their product (c) peaks at shorter lengths than (a) does: Veit et al. found almost all of "
            "the gradient in paths much shorter than the network."
        ).format(VEIT=VEIT)
    )
    st.caption(
        _(
            "Measured here as a masked backward pass through the real network: the gradient's norm at the first "
            "block's input (the stem's output, where every path starts), per image, for its own label's loss, batch "
            "norm with running statistics. In the 2015 block the ReLU after the addition passes the same derivative "
            "to both summands, so the split is exact given the forward pass's ReLU pattern, which all paths share; "
            "where a stage begins, the option-A shortcut's zero-padded channels carry no gradient; the 2016 block has "
            "nothing after its addition. The bars in (b) are one standard error; the plain twin has one path, "
            "through all its blocks: a single bar."
        )
    )


def _meaning(results: list[PathResult]) -> None:
    st.markdown("\n".join(f"- {n}" for n in path_notes(results)))
    lo, hi = VEIT_RANGE
    st.markdown(
        _(
            "Veit et al. measured a ResNet-110 (54 blocks) trained on CIFAR-10: {pct:.0%} of its gradient in paths of {lo} "
            "to {hi} blocks, {plo:.0%} to {phi:.0%} of its depth. Ours are networks at initialisation and a short CPU "
            "run on the built-in shapes, not their CIFAR-10 run: compare the shape of the curves, not the exact "
            "ranges."
        ).format(pct=SHARE, lo=lo, hi=hi, plo=lo / VEIT_BLOCKS, phi=hi / VEIT_BLOCKS)
    )
    st.markdown(
        _(
            "What this means for the lesion study on the Experiments page: removing one block deletes only the paths "
            "through it, and the short paths that carry the gradient mostly avoid any given block, so a residual "
            "network loses a little accuracy per removed block. In the plain twin the one path runs through every "
            "block: remove one and nothing is left of it."
        )
    )


def precomputed_paths_ui(key: str) -> None:
    """The shipped figure (at initialisation or trained), its notes and the table against Veit et al.'s."""
    data = precomputed_path_lengths()
    if data is None:
        st.info(_("The gradient by path length ships with `make assets`; compute it live below."))
        return
    choices = [w for w, part in zip(WEIGHTS, ("init", "trained"), strict=True) if data[part]]
    state.keep_valid(state.PATHS_WEIGHTS, choices, choices[0])
    weights = st.radio(_("Networks"), choices, key=state.PATHS_WEIGHTS, horizontal=True, format_func=_)
    part = "init" if weights == WEIGHTS[0] else "trained"
    residual, plain = _split(data[part])
    show_chart(figure(path_lengths_figure, residual, plain), key=f"{key}_paths_{part}")
    what = _("the built-in shapes") if part == "init" else _("the run's training images")
    if data.get("target_se"):
        text = _(
            "{samples} measurements of every length, then more of the lengths in the effective range until each "
            "standard error is under {pct:.0%} of its mean; seed {seed}, on {what}."
        )
    else:
        text = _("{samples} measurements per length, seed {seed}, on {what}.")
    st.caption(text.format(samples=data["samples"], pct=data.get("target_se") or 0, seed=data["seed"], what=what))
    _meaning(residual)
    rows = [(_("initialisation"), r) for r in _split(data["init"])[0]]
    rows += [(_("trained"), r) for r in _split(data["trained"])[0]]
    st.dataframe(comparison_table(rows), hide_index=True, key=f"{key}_paths_table")


def live_paths_ui(key: str) -> None:
    """One residual network of a saved run, measured live as a job on the engine (progress and Stop)."""
    st.subheader(_("Compute it for a saved run"))
    runs = [r for r in found_runs(runs_root(), ASSET_RUNS) if any(c.residual for c in r.model_configs.values())]
    if not runs:
        st.info(_("No saved run with a residual network yet: train one on the Train page, then come back."))
        return
    labels = {r.path.name: r for r in runs}
    state.keep_valid(state.PATHS_RUN, list(labels), next(iter(labels)))
    run = labels[st.selectbox(_("Run"), list(labels), key=state.PATHS_RUN)]
    names = [n for n, c in run.model_configs.items() if c.residual]
    state.keep_valid(state.PATHS_NET, names, names[-1])
    c1, c2 = st.columns(2)
    network = c1.selectbox(_("Network"), names, key=state.PATHS_NET)
    samples = c2.select_slider(_("First measurements per length"), [8, 16, 32, 64], value=16, key=state.PATHS_SAMPLES)
    blocks = sum(run.model_configs[network].stage_blocks)
    st.caption(
        _(
            "{m} masked backward passes first, one per image and length; then more at the lengths of the effective "
            "range, until each standard error is under {pct:.0%} of its mean."
        ).format(m=samples * (blocks + 1), pct=TARGET_SE)
    )
    if st.button(_("Compute"), key=f"{key}_paths_compute", type="primary"):
        job = paths_job(run.path, [network], samples, target_se=TARGET_SE)
        submit_ui(LIVE_JOB, job, _("Gradient by path length"))
    results = job_panel(LIVE_JOB, _("Gradient by path length"))
    if results:
        show_chart(figure(path_lengths_figure, results), key=f"{key}_paths_live")
        st.markdown("\n".join(f"- {n}" for n in path_notes(results)))


def paths_section(key: str) -> None:
    """The whole section: what is measured, the shipped figure with what it means, and the live computation."""
    _intro()
    precomputed_paths_ui(key)
    live_paths_ui(key)
