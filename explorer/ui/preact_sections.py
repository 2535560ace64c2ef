"""The 2016 follow-up on the pages: where the ReLU goes (He et al. 2016, "Identity Mappings in Deep Residual Networks").

Every number shown comes from the app's own measurements: the precomputed gradient sweep at initialisation
(``python -m explorer precompute``) and the 'preact' preset trained on three seeds (``make assets``).
"""

from __future__ import annotations

import streamlit as st

from explorer.charts.misconceptions import gradient_growth_figure, ratio_text
from explorer.charts.model import block_figure
from explorer.experiments.relu_place import verdict
from explorer.i18n import N_, _, then
from explorer.interpret.gradient_results import first_last_ratios
from explorer.ui.caches.assets import precomputed_relu_place, precomputed_run, precomputed_sweeps
from explorer.ui.caches.results import figure
from explorer.ui.lesson_sections import recipe_caption
from explorer.ui.widgets import show_chart, show_table

PAPER = (
    N_(  # shown through _(); He et al. 2016, Table 3: CIFAR-10 test error (%), original block -> full pre-activation
        "He et al. 2016 (Table 3, CIFAR-10 test error, mini-batch 128): 110 layers 6.61% -> 6.37%, 164 layers "
        "5.93% -> 5.46%, 1001 layers 7.61% -> 4.92%. The 1001-layer net's 4.62%, in Table 4, comes from "
        "training with mini-batch 64 (median of 5 runs)."
    )
)


def _kind(row: dict) -> str:
    kind = _("ResNet") if row["residual"] else _("plain")
    return _("{kind}, 2016").format(kind=kind) if row["preact"] else _("{kind}, 2015").format(kind=kind)


def preact_ratios() -> list[dict]:
    """first_last_ratios rows of the precomputed sweep, 2015 and 2016 blocks, or [] if the sweep has no 2016 rows."""
    sweep, _shattered = precomputed_sweeps()
    rows = first_last_ratios(sweep or [])
    return rows if any(r["preact"] for r in rows) else []


FLAT = (0.1, 10.0)  # a first/last ratio in this band reads as neither vanishing nor exploding (one decade each way)


def _kind_rows(rows: list[dict], residual: bool, preact: bool) -> list[dict]:
    """The rows of one kind of network, shallowest first."""
    return sorted((r for r in rows if r["residual"] == residual and r["preact"] == preact), key=lambda r: r["depth"])


def _grows(mine: list[dict]) -> bool:
    """Whether a kind's ratio rises with depth at every step and at least doubles from the shallowest to the deepest."""
    ratios = [r["ratio"] for r in mine]
    rising = all(a < b for a, b in zip(ratios, ratios[1:], strict=False))
    return len(ratios) > 2 and rising and ratios[-1] >= 2 * ratios[0]


def _band_text(mine: list[dict]) -> str:
    """Where the 2016 ratio stands against the 0.1-10 band, depth by depth, as measured."""
    low, high = FLAT
    below = [r["depth"] for r in mine if r["ratio"] < low]
    above = [r for r in mine if r["ratio"] > high]
    if not below and not above:
        return _(
            "A ratio between 0.1 and 10 reads as neither vanishing nor exploding, and the 2016 ratio stays in that "
            "band at every depth: consistent with eq. 5."
        )
    text = _("A ratio between 0.1 and 10 reads as neither vanishing nor exploding.")
    if below:
        depths = ", ".join(map(str, below))
        text = then(text, _("The 2016 ratio falls below 0.1 at depth {depths}.").format(depths=depths))
    else:
        text = then(text, _("The 2016 ratio never falls below 0.1: no sign of vanishing, consistent with eq. 5."))
    if above:
        values = ", ".join(ratio_text(r["ratio"], html=False) for r in above)
        depths = ", ".join(str(r["depth"]) for r in above)
        text = then(text, _("It passes 10 at depth {depths} ({values}).").format(depths=depths, values=values))
    return text


def gradient_text(rows: list[dict]) -> str:
    """What the sweep measured for the 2016 block, and how it stands to eq. 5 (each claim checked on ``rows``)."""
    pre, old, plain = (_kind_rows(rows, *kind) for kind in ((True, True), (True, False), (False, True)))
    old_ratios = [r["ratio"] for r in old]
    text = _(
        "He et al. 2016, eq. 5: in a stage of pre-activation blocks with identity shortcuts, "
        "∂L/∂x_l = ∂L/∂x_L (1 + ∂/∂x_l Σ F). The gradient reaching an early block's input x_l carries the last "
        "block's gradient directly, and the second term is unlikely to cancel it for every example of a "
        "mini-batch, so the gradient is unlikely to vanish, however deep the network. Measured here is a proxy, "
        "not eq. 5's ∂L/∂x_l: the first layer's weight gradient over the last layer's, at initialisation, on one "
        "batch of shapes. The 2016 ResNets' ratio goes from {p0} at {d0} layers to {p1} at {d1}; the 2015 "
        "ResNets' stays between {o_low} and {o_high}; the plain twins' goes from {q0} to {q1}."
    ).format(
        p0=ratio_text(pre[0]["ratio"], html=False), p1=ratio_text(pre[-1]["ratio"], html=False),
        d0=pre[0]["depth"], d1=pre[-1]["depth"],
        o_low=ratio_text(min(old_ratios), html=False), o_high=ratio_text(max(old_ratios), html=False),
        q0=ratio_text(plain[0]["ratio"], html=False), q1=ratio_text(plain[-1]["ratio"], html=False),
    )  # fmt: skip
    text = then(text, _band_text(pre))
    if _grows(pre):
        text = then(
            text,
            _(
                "It also grows with every step in depth, which eq. 5 does not predict: the equation says the gradient "
                "is unlikely to vanish, not how its size changes with depth."
            ),
        )
    if all(FLAT[0] <= v < 1 for v in old_ratios):
        text = then(
            text,
            _(
                "The 2015 ResNets' ratio is below 1 at every depth and inside the same band: a ratio below 1 is not yet "
                "vanishing."
            ),
        )
    twins = {}
    for r in rows:
        if not r["residual"]:
            twins.setdefault(r["depth"], {})[r["preact"]] = r["ratio"]
    pairs = [t for t in twins.values() if len(t) == 2]
    if pairs and all(abs(t[True] - t[False]) <= 1e-6 * abs(t[False]) for t in pairs):
        text = then(
            text,
            _(
                "The 2015 and 2016 plain twins measure the same: without the additions the two orders are one chain of "
                "conv, BN and ReLU."
            ),
        )
    return text


def preact_gradients_section(prefix: str) -> None:
    """First/last gradient ratio against depth for the 2015 and 2016 blocks, plain and residual (precomputed)."""
    rows = preact_ratios()
    if not rows:
        st.info(_("The precomputed sweep has no pre-activation networks: `python -m explorer precompute` adds them."))
        return
    st.markdown(gradient_text(rows))
    show_chart(figure(gradient_growth_figure, rows), key=f"{prefix}_preact_ratios")
    by_depth: dict[int, dict] = {}
    for r in rows:
        by_depth.setdefault(r["depth"], {_("depth"): r["depth"]})[_kind(r)] = ratio_text(r["ratio"], html=False)
    show_table(list(by_depth.values()), key=f"{prefix}_preact_table")


def relu_place_text(summary: dict) -> str:
    """The 'where the ReLU goes' result across seeds, as measured, and how it stands to the paper's."""
    v = verdict(summary["rows"])
    n, wins = len(v["seeds"]), len(v["wins_2016"])
    text = _(
        "Measured on {n} seeds ({seeds}): final training loss {a:.3f} for the 2015 block and {b:.3f} for the 2016 "
        "pre-activation block (means); held-out accuracy {ha:.1%} and {hb:.1%}. The 2016 block reached the lower "
        "training loss on {wins} of {n} seeds."
    ).format(
        n=n,
        seeds=", ".join(map(str, v["seeds"])),
        a=v["2015"]["train_loss"],
        b=v["2016"]["train_loss"],
        ha=v["2015"]["heldout_accuracy"],
        hb=v["2016"]["heldout_accuracy"],
        wins=wins,
    )
    if 2 * wins <= n:
        text = then(
            text,
            _(
                "So in these short runs on shapes the 2016 block does not beat the 2015 one. That is not what the paper "
                "measured at 164 and 1001 layers, and it need not contradict it: He et al. (2016, section 4.2 and Figs. 1 "
                "and 6) found the ReLU after the addition hard to optimise through mainly at 1001 layers, its effect "
                "mild with fewer layers (164), where the pre-activation net's gain was a lower test error at a slightly higher training "
                "loss, after 64,000 iterations on CIFAR-10. A 56-layer net after 160 steps is in neither regime."
            ),
        )
    else:
        text = then(
            text,
            _(
                "He et al. (2016, section 4.2 and Figs. 1 and 6) saw the largest gain at 1001 layers, and a mild one "
                "with fewer layers (164), after 64,000 iterations on CIFAR-10; these are 56-layer nets after 160 steps."
            ),
        )
    return then(text, _(PAPER))


def relu_place_section(prefix: str) -> None:
    """The preset's result on three seeds, with the recipe (precomputed by ``make assets``)."""
    summary = precomputed_relu_place()
    if not summary or not summary.get("rows"):
        st.info(_("The 'where the ReLU goes' runs are missing from assets/ (`make assets` makes them)."))
        return
    st.markdown(relu_place_text(summary))
    table = [
        {
            _("seed"): r["seed"],
            _("network"): r["network"],
            _("final training loss"): round(r["train_loss"], 3),
            _("training accuracy"): f"{r['train_accuracy']:.1%}",
            _("held-out accuracy"): f"{r['heldout_accuracy']:.1%}",
        }
        for r in summary["rows"]
    ]
    show_table(table, key=f"{prefix}_relu_place")
    run = precomputed_run("preact")
    if run is not None:
        st.caption(recipe_caption(run))
    st.caption(
        _("Each seed: `python -m explorer train --preset preact --seed S`; the seed-0 run is among the earlier runs.")
    )


def preact_learn_section() -> None:
    """Learn: the 2016 block in a few lines, then what this app measured of it."""
    st.subheader(_("The 2016 follow-up: where the ReLU goes"))
    st.markdown(
        _(
            "In the 2015 block the ReLU comes after the addition, out = relu(x + F(x)), so the shortcut's x "
            "passes through a ReLU at every block. He et al. 2016 ('Identity Mappings in Deep Residual "
            "Networks') move batch norm and ReLU before the convolutions (full pre-activation) and leave nothing "
            "after the addition: out = x + F(x). Then x_L = x_l + Σ F (their eq. 4): the signal, and the gradient, "
            "cross any number of blocks on a pure identity path. With it they trained a 1001-layer network to a "
            "CIFAR-10 test error of 4.92% with their usual mini-batch of 128 (Table 3; 7.61% with the 2015 block), "
            "and of 4.62% with a mini-batch of 64 (Table 4, median of 5 runs)."
        )
    )
    show_chart(figure(block_figure, "basic", "identity", True, 16), key="learn_preact_2015")  # one under the other:
    show_chart(figure(block_figure, "basic", "identity", True, 16, preact=True), key="learn_preact_2016")  # 1024 px
    rows = preact_ratios()
    if rows:
        st.markdown(gradient_text(rows))
    summary = precomputed_relu_place()
    if summary and summary.get("rows"):
        st.markdown(relu_place_text(summary))
