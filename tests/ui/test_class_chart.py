"""The class chart's drawing is shared while the experiment is unchanged, and follows it as soon as it changes."""

import json

from explorer.experiments import class_experiment as ce
from explorer.i18n import language
from explorer.ui import class_chart
from tests.experiments.test_class_experiment import pair


def dots(fig: dict) -> int:
    """Every run's dots, in both panels (final loss and held-out accuracy)."""
    return sum(
        len(t["y"]) for t in fig["data"] if t.get("mode") == "markers" and t.get("name") in ("plain", "residual")
    )


def test_a_poll_of_an_unchanged_experiment_draws_what_the_last_one_drew_and_a_new_pair_is_drawn(tmp_path, monkeypatch):
    monkeypatch.setattr(ce, "RACY_S", 0.0)  # the files' times tell every change apart at once here
    code = ce.new_experiment(tmp_path, depths=(20, 32), steps=60).code
    for seed in (1, 2, 3):
        ce.record_result(ce.experiment_dir(tmp_path, code), pair(20, seed, 2.0 + 0.01 * seed, 1.5, when=seed))
    first = ce.load(tmp_path, code)
    fig, words = class_chart.drawing(first, None, "en")
    assert dots(fig) == 12 and words.startswith("Runs so far: 6,") and "32 layers: no pairs yet." in words
    again = ce.load(tmp_path, code)
    assert again is first  # nothing changed on disk: the loader hands out the same experiment ...
    assert class_chart.drawing(again, None, "en") == (fig, words)  # ... and the poll draws the same, not anew
    assert class_chart.drawing(again, None, "en")[0] is fig

    ce.record_result(ce.experiment_dir(tmp_path, code), pair(32, 4, 2.5, 1.4, when=4))
    changed = ce.load(tmp_path, code)
    assert changed is not first
    fig2, words2 = class_chart.drawing(changed, None, "en")
    assert dots(fig2) == 16 and words2.startswith("Runs so far: 8,") and "32 layers: 1 of the 3" in words2
    mine, _words = class_chart.drawing(changed, (32, 4), "en")  # a student's own pair is ringed on their page only
    assert "your pair" in json.dumps(mine) and "your pair" not in json.dumps(fig2)
    with language("zh"):
        zh_fig, zh_words = class_chart.drawing(changed, None, "zh")
    assert zh_words != words2 and not zh_words.isascii()
