"""What the "Can you trust the map?" page says about the benchmark's numbers: plain words built from the results
(explorer.experiments.saliency_verdicts), in the session's language. No streamlit here: the page shows them."""

from __future__ import annotations

import pandas as pd

from explorer.charts.saliency import METRIC_SHORT, WEIGHT_LABELS, method_label
from explorer.experiments.saliency import METRICS
from explorer.experiments.saliency_verdicts import (
    centre_wins,
    chance,
    images_in,
    near_chance,
    random_gap,
    randomisation_means,
    score_range,
)
from explorer.i18n import _, ngettext

ZHANG = "Zhang et al. 2018, *Top-down Neural Attention by Excitation Backprop* (IJCV)"
ARRAS = "Arras, Osman and Samek 2022, *CLEVR-XAI* (Information Fusion)"
PETSIUK = "Petsiuk, Das and Saenko 2018, *RISE* (BMVC)"
ADEBAYO = "Adebayo et al. 2018, *Sanity Checks for Saliency Maps* (NeurIPS)"
HOOKER = "Hooker et al. 2019, *A Benchmark for Interpretability Methods in Deep Neural Networks* (NeurIPS)"
RONG = "Rong et al. 2022, *A Consistent and Efficient Evaluation Strategy for Attribution Methods* (ICML)"
GRADIENT_MAPS = ("guided-grad-cam", "saliency", "integrated-gradients")  # maps made from the input gradient


def _names(results: list[dict]) -> str:
    return ", ".join(r["network"] for r in results)


def pointing_note(r: dict) -> str:
    tol = r["tolerance_px"]
    text = _(
        "**Rewards** a map whose single brightest pixel lands on the object, within {tol} of its outline: 3 percent of "
        "the image's side, as {ZHANG} allow 15 pixels on images about 500 pixels a side (at {size} pixels that is "
        "under one pixel, so one). A map that peaks anywhere at random hits as often as the share of pixels that "
        "close to the outline: {area:.0%} here, the random map's line. **Its limits**: anything that peaks where "
        "objects usually are scores well (the centre map never looks at the image), and it ignores the rest of "
        "the map."
    )
    pixels = ngettext("{n} pixel", "{n} pixels", tol).format(n=tol)
    return text.format(tol=pixels, ZHANG=ZHANG, size=r["image_size"], area=r.get("hit_area", r["mask_area"]))


def metric_notes(results: list[dict]) -> dict[str, str]:
    """What each metric rewards and where its limits are, in plain words, with its source."""
    r = results[0]
    return {
        "pointing_game": pointing_note(r),
        "mass_in_mask": _(
            "**Rewards** putting the map's positive total inside the true outline ({ARRAS}). A flat map scores "
            "the outline's share of the image, {area:.0%} here. **Its limits**: a map that traces the object in "
            "the image scores whether or not the network uses it: that is why the randomised networks are shown."
        ).format(ARRAS=ARRAS, area=r["mask_area"]),
        "deletion_auc": _(
            "**Rewards** a map whose top pixels, removed first ({step} steps, each pixel set to the dataset's "
            "mean colour), make the class probability fall fast: the area under that curve, lower is better "
            "({PETSIUK}). **Its limits**: scattered pixels set to one colour break the shape's outline "
            "everywhere at once, so the probability can fall because of the pattern of what was removed, not "
            "because the evidence went ({HOOKER}; {RONG})."
        ).format(step=r["curve_steps"], PETSIUK=PETSIUK, HOOKER=HOOKER, RONG=RONG)
        + "\n\n"
        + within_one_network(),
        "insertion_auc": _(
            "**Rewards** a map whose top pixels, put back first onto a mean-colour image, bring the class "
            "probability back fast: higher is better ({PETSIUK}). The mean colour, not RISE's blur, because a "
            "blurred flat shape still shows its colour and outline. **Its limits**: the same leak through "
            "the shape of what is put back; and Integrated Gradients and Occlusion were computed against this "
            "very mean-colour image, which favours them a little."
        ).format(PETSIUK=PETSIUK),
        "road_deletion_auc": _(
            "**The same deletion, with ROAD's removal** ({RONG}): each removed pixel is filled with the weighted "
            "mean of its eight neighbours (all removed pixels solved together), plus a little noise, so what is "
            "removed leaves no outline of its own. Lower is better."
        ).format(RONG=RONG),
        "road_insertion_auc": _(
            "**The same insertion, with ROAD's removal**: the pixels not yet put back are filled from their "
            "neighbours (ROAD's least-relevant-first curve, read backwards). Higher is better."
        ),
    }


def within_one_network() -> str:
    return _(
        "Deletion and insertion areas compare methods within one network only: on a network near chance (every "
        "randomised one, and a trained one that did not learn) the probability sits near one class in ten "
        "whatever is removed, which reads as a better deletion score than any trained network's."
    )


def marked(r: dict, text: str) -> str:
    """``text`` about a network, with ', near chance' after it for a trained network that did not learn."""
    if r["weights"] == "trained" and near_chance(r):
        return _("{text}, near chance").format(text=text)
    return text


def accuracy_text(r: dict) -> str:
    """'97%', or '16%, near chance' for a trained network that did not learn."""
    return marked(r, "{acc:.0%}".format(acc=r["accuracy"]))


def results_table(results: list[dict], subset: str) -> pd.DataFrame:
    rows = []
    for r in results:
        for name, scores in (r.get(subset) or {}).items():
            if scores is None:
                continue
            row = {_("network"): r["network"], _("weights"): _(WEIGHT_LABELS[r["weights"]])}
            row |= {_("classified correctly"): accuracy_text(r), _("images"): images_in(r, subset)}
            row[_("method")] = method_label(name)
            row |= {_(METRIC_SHORT[m]): round(scores[m], 3) for m in METRICS if m in scores}
            rows.append(row)
    return pd.DataFrame(rows)


def left_out(results: list[dict]) -> str | None:
    """The sentence naming the trained networks near chance, left out of every verdict (None if none)."""
    weak = [r for r in results if r["weights"] == "trained" and near_chance(r)]
    if not weak:
        return None
    return _(
        "Left out of every verdict and mean below: {networks}, which classified {acc} of these images correctly "
        "(guessing gets {chance:.0%}): a network that did not learn has nothing for a map to explain. Its rows "
        "stay in the table, marked."
    ).format(networks=_names(weak), acc=", ".join(f"{r['accuracy']:.0%}" for r in weak), chance=chance(weak[0]))


def centre_lines(results: list[dict], subset: str) -> tuple[list[str], int, int]:
    """One line per network where the centre map ties or beats a method, the widest half-interval (points), n."""
    lines, widest, n = [], 0, 0
    for r in results:
        wins = centre_wins(r, subset)
        if not wins:
            continue
        items = []
        for v in wins:
            word = _("a tie") if v.verdict == "tie" else _("the centre map is better")
            items.append(
                _("{method} {score:.2f} against {centre:.2f}, {word} ({low:+.0f} to {high:+.0f} points)").format(
                    method=method_label(v.method),
                    score=v.score,
                    centre=v.centre,
                    word=word,
                    low=100 * v.low,
                    high=100 * v.high,
                )  # fmt: skip
            )
            widest = max(widest, round(50 * (v.high - v.low)))
            n = max(n, v.images)
        lines.append("- " + _("{network}: {items}.").format(network=r["network"], items="; ".join(items)))
    return lines, widest, n


def centre_text(results: list[dict], subset: str) -> tuple[bool, str]:
    """(whether the centre map ties or beats some method, the page's paragraph about it)."""
    lines, widest, n = centre_lines(results, subset)
    if not lines:
        return False, _(
            "On the networks that learned, every method beats the centre map at the pointing game by more than "
            "the uncertainty of these images (interval: 95%)."
        )
    head = _(
        "**The centre map ties or beats these methods at the pointing game.** On {m} images a difference within "
        "about {n} points is a tie. A Gaussian at the middle, the same for every image, points at the object "
        "about as often, because the shapes are drawn near the middle and are large. In brackets, each method's "
        "score minus the centre's, as an interval at 95%: where it holds 0 the two cannot be told apart."
    ).format(n=widest, m=n)
    return True, head + "\n" + "\n".join(lines)


def randomisation_text(results: list[dict]) -> str | None:
    """Pointing game, trained networks that learned against randomised ones, every mean with its n."""
    means = randomisation_means(results, "pointing_game")
    if not all(t and r for t, r in means.values()):
        return None
    rows = []
    for m, (t, r) in means.items():
        cell = _("{value:.2f} ({networks} networks, {images} images)")
        rows.append(
            f"- {method_label(m)}: "
            + cell.format(value=t.value, networks=t.networks, images=t.images)
            + " → "
            + cell.format(value=r.value, networks=r.networks, images=r.images)
        )
    head = _(
        "**With the weights randomised** ({ADEBAYO}) a map that explains the network should lose its aim. "
        "Pointing game on all images, the trained networks that learned against the randomised ones (means):"
    ).format(ADEBAYO=ADEBAYO)
    return head + "\n" + "\n".join(rows)


def edges_text(results: list[dict]) -> str | None:
    """How well maps of randomised networks still point: the pointing game mostly rewards finding edges."""
    span = score_range(results, GRADIENT_MAPS, "pointing_game", "randomised")
    randomised = [r for r in results if r["weights"] == "randomised"]
    if span is None or not randomised:
        return None
    r = randomised[0]
    return _(
        "On these shapes the gradient maps (Guided Grad-CAM, Saliency, Integrated Gradients) of randomised "
        "networks still score {low:.2f} to {high:.2f} at the pointing game, against {random:.2f} for the random "
        "map ({area:.2f} expected): weights that learned nothing still pass the image's edges to its gradient, "
        "and a flat shape's strongest edges are its outline. Here the pointing game mostly rewards finding edges."
    ).format(low=span[0], high=span[1], random=r["methods"]["random"]["pointing_game"], area=r.get("hit_area", 0.0))


def removal_text(results: list[dict]) -> str | None:
    """Which removal tells the methods from the random map, network by network (networks that learned)."""
    lines = []
    for r in results:
        if r["weights"] != "trained" or near_chance(r) or "road_deletion_auc" not in r["methods"]["random"]:
            continue
        gaps = [random_gap(r, m) for m in ("deletion_auc", "road_deletion_auc", "insertion_auc", "road_insertion_auc")]
        d, rd, i, ri = (round(g[1], 2) + 0.0 for g in gaps)  # + 0.0: never "-0.00"
        lines.append(
            "- "
            + _(
                "{network}: deletion, mean colour {d:+.2f}, ROAD {rd:+.2f}; insertion, mean colour {i:+.2f}, "
                "ROAD {ri:+.2f}"
            ).format(network=r["network"], d=d, rd=rd, i=i, ri=ri)
        )
    if not lines:
        return None
    head = _(
        "**Which removal tells a method from noise?** How far the best method is ahead of the random map, on "
        "the networks that learned (positive: ahead; the random map explains nothing, so a removal that "
        "cannot put the methods well ahead of it cannot judge them):"
    )
    return head + "\n" + "\n".join(lines)
