"""The precomputed degradation runs say what the pages say of them (He et al. 2015, Fig. 1)."""

import math
from pathlib import Path

import pytest

from explorer.training.runs import load_run

RUNS = Path(__file__).resolve().parents[2] / "assets" / "runs"
CHANCE = math.log(10)


def _final(name: str) -> dict[str, float]:
    path = RUNS / name
    if not (path / "config.json").is_file():
        pytest.skip(f"assets/runs/{name} is not there (make assets)")
    return load_run(path).history.final_losses()


def test_short_preset_plain56_fails_to_start():
    losses = _final("degradation")
    assert losses["Plain-56"] > 0.95 * CHANCE > losses["Plain-20"]


def test_longer_recipe_plain56_learns_but_ends_above_plain20():
    losses = _final("degradation-full-batch")
    assert losses["Plain-56"] < 0.9 * CHANCE  # it learned: a failure to start would sit at 2.30
    assert losses["Plain-56"] > losses["Plain-20"]  # and trained worse than the shallower plain net
    assert losses["ResNet-56"] < losses["Plain-56"]


def test_verdicts_and_recipe_caption():
    from explorer.ui.lesson_sections import degradation_verdict, recipe_caption

    fails = degradation_verdict({"Plain-20": 0.5, "Plain-56": 2.30, "ResNet-20": 0.4, "ResNet-56": 0.3})
    assert "failure to *start*" in fails and "Fig. 1" in fails
    learns = degradation_verdict({"Plain-20": 0.5, "Plain-56": 1.2, "ResNet-20": 0.4, "ResNet-56": 0.3})
    assert "learned but ended **above** Plain-20" in learns and "failure" not in learns
    run = load_run(RUNS / "degradation")
    caption = recipe_caption(run)
    for part in (
        "AdamW",
        "learning rate 0.003",
        "160 steps of batch 32",
        "6,000 images of the built-in shapes",
        "24 px",
    ):
        assert part in caption, part
    assert f"{run.history.wall_s:.0f} s" not in caption  # wall time on a loaded machine is no property of the recipe


def test_memorisation_note_from_the_runs_numbers():
    from explorer.ui.lesson_sections import memorisation_note

    short = load_run(RUNS / "degradation").history
    assert memorisation_note(short) == ""  # the preset's networks generalise
    path = RUNS / "degradation-full-batch"
    if not (path / "config.json").is_file():
        pytest.skip("assets/runs/degradation-full-batch is not there (make assets)")
    assert "memorised" in memorisation_note(load_run(path).history)


def test_full_batch_networks_all_memorise_their_images():
    """What Learn, Experiments and Myth 1 say of the full-batch run: 100% training accuracy for all four,
    held-out accuracy near chance, and Plain-56's training loss above Plain-20's."""
    path = RUNS / "degradation-full-batch"
    if not (path / "config.json").is_file():
        pytest.skip("assets/runs/degradation-full-batch is not there (make assets)")
    history = load_run(path).history
    for name, m in history.models.items():
        assert m.accuracy[-1] == 1.0 and m.eval_accuracy[-1] < 0.2, name
    losses = history.final_losses()
    assert losses["Plain-56"] > 3 * losses["Plain-20"]


def test_lesion_verdict_counts_the_shipped_study():
    import json

    from explorer.experiments.precompute import load_lesions
    from explorer.ui.lesson_sections import lesion_verdict

    folder = RUNS.parent / "experiments"
    results = load_lesions(folder)
    if results is None:
        pytest.skip("no lesion study in assets/experiments (make assets)")
    verdict = lesion_verdict(results)
    raw = {
        r["model_name"]: [b["drop"] for b in r["blocks"]]
        for r in json.loads((folder / "lesion.json").read_text())["results"]
    }
    r20, r56 = raw["ResNet-20"], raw["ResNet-56"]
    big20, small56 = sum(d >= 0.2 for d in r20), sum(d < 0.06 for d in r56)
    assert f"ResNet-20 loses 20 points or more on {big20} of its {len(r20)} blocks" in verdict
    assert (
        f"ResNet-56 loses 20 points or more on {sum(d >= 0.2 for d in r56)} of its 27 blocks and under 6 "
        f"points on {small56}" in verdict
    )
    assert "Plain" not in verdict  # a plain network has no shortcut to keep: only the residual ones are counted
    # what the page says of them: the shallower net loses much from most blocks, the deeper little from most
    assert big20 >= 7 and small56 >= 2 * 27 // 3
