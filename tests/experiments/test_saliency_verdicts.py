"""What the benchmark's numbers allow one to say: near chance, the centre map against each method with a 95%
interval worked out by hand, and the randomisation means with their n."""

import math

import pytest

from explorer.experiments.saliency_maps import METHOD_KEYS
from explorer.experiments.saliency_verdicts import (
    centre_comparison,
    centre_wins,
    near_chance,
    random_gap,
    randomisation_means,
    score_range,
)
from tests.experiments.test_saliency import METRICS


def result(weights="trained", accuracy=0.95, images=128, network="ResNet-20", **scores) -> dict:
    methods = {m: {k: 0.5 for k in METRICS} for m in METHOD_KEYS}
    for name, value in scores.items():
        methods[name.replace("_", "-")]["pointing_game"] = value
    return {
        "network": network,
        "weights": weights,
        "accuracy": accuracy,
        "images": images,
        "correct": round(accuracy * images),
        "methods": methods,
    }


def test_near_chance_is_a_tenth_of_the_way_from_guessing_to_perfect():
    assert near_chance(result(accuracy=0.164))  # Plain-56 of the shapes run: 21 of 128, ten classes (limit 19%)
    assert near_chance(result(accuracy=0.10)) and not near_chance(result(accuracy=0.25))
    assert not near_chance(result(accuracy=0.97))
    assert near_chance({**result(accuracy=0.3), "classes": 4}) and not near_chance(
        {**result(accuracy=0.4), "classes": 4}
    )
    assert near_chance({**result(accuracy=0.55), "classes": 2}) and not near_chance(
        {**result(accuracy=0.6), "classes": 2}
    )


def test_centre_against_a_method_with_its_interval_by_hand():
    r = result(grad_cam=0.81, center=0.85)
    v = next(v for v in centre_comparison(r) if v.method == "grad-cam")
    half = 1.96 * math.sqrt((0.81 * 0.19 + 0.85 * 0.15) / 128)  # 0.092
    assert (v.low, v.high) == pytest.approx((-0.04 - half, -0.04 + half))
    assert v.verdict == "tie"
    assert next(v for v in centre_comparison(result(saliency=0.5, center=0.9)) if v.method == "saliency").verdict == (
        "centre"
    )
    assert next(v for v in centre_comparison(result(saliency=0.99, center=0.6)) if v.method == "saliency").verdict == (
        "method"
    )


def test_centre_verdicts_leave_out_networks_near_chance():
    learned = result(grad_cam=0.6, guided_grad_cam=0.99, saliency=0.99, integrated_gradients=0.99, occlusion=0.99,
                     score_cam=0.99, layercam=0.99, center=0.85, **{"grad-cam++": 0.99})  # fmt: skip
    assert [v.method for v in centre_wins(learned)] == ["grad-cam"]
    assert centre_wins({**learned, "accuracy": 0.135}) == []  # the same scores from a network that never learned


def test_randomisation_means_count_their_networks_and_leave_out_chance():
    results = [
        result(grad_cam=0.9, network="ResNet-20"),
        result(grad_cam=0.7, network="Plain-20"),
        result(grad_cam=0.2, network="Plain-56", accuracy=0.135),  # never learned: out of the trained mean
        result("randomised", 0.1, grad_cam=0.4, network="ResNet-20"),
        result("randomised", 0.1, grad_cam=0.6, network="Plain-56"),
    ]
    trained, randomised = randomisation_means(results, "pointing_game")["grad-cam"]
    assert (trained.value, trained.networks, trained.images) == (pytest.approx(0.8), 2, 256)
    assert (randomised.value, randomised.networks, randomised.images) == (pytest.approx(0.5), 2, 256)
    assert randomisation_means(results[:3], "pointing_game")["grad-cam"][1] is None


def test_score_range_and_the_gap_to_the_random_map():
    results = [
        result("randomised", saliency=0.79, guided_grad_cam=0.91),
        result("randomised", saliency=0.85, guided_grad_cam=0.8),
    ]
    assert score_range(results, ("saliency", "guided-grad-cam"), "pointing_game", "randomised") == (0.79, 0.91)
    r = result()
    r["methods"]["grad-cam"]["deletion_auc"] = 0.2
    r["methods"]["random"]["deletion_auc"] = 0.6
    r["methods"]["occlusion"]["insertion_auc"] = 0.9
    assert random_gap(r, "deletion_auc") == ("grad-cam", pytest.approx(0.4))  # lower is better for deletion
    assert random_gap(r, "insertion_auc") == ("occlusion", pytest.approx(0.4))
