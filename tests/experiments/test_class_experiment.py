"""The class experiment's record on disk, its assignments, summary, verdict and CSV, against hand-computed values."""

import csv
import io
import json
import threading

import pytest

from explorer.experiments import class_experiment as ce
from explorer.experiments import class_verdict as cv
from explorer.i18n import translate


def pair(depth, seed, plain, residual, when, steps=60):
    return ce.PairResult(
        depth, seed, steps, {"plain": plain, "residual": residual}, {"plain": 0.5, "residual": 0.7}, when
    )


@pytest.fixture
def exp(tmp_path):
    return ce.new_experiment(tmp_path, depths=(32, 20), steps=60)


def test_a_new_experiment_is_on_disk_and_reloads(tmp_path, exp):
    assert len(exp.code) == 6 and exp.depths == (20, 32) and exp.open and exp.steps == 60
    again = ce.load(tmp_path, exp.code.lower())  # codes are typed in any case
    assert again.code == exp.code and again.recipe == exp.recipe and again.results == ()
    assert exp.train_config(seed=7).seed == 7 and exp.train_config(7).steps == 60
    assert not [p for p in exp.path.rglob(".*")]  # no temporary file left behind


@pytest.mark.parametrize(
    ("values", "median", "q25", "q75"),
    [([5.0], 5.0, 5.0, 5.0), ([3.0, 1.0, 2.0], 2.0, 1.5, 2.5), ([4.0, 1.0, 3.0, 2.0], 2.5, 1.75, 3.25)],
)
def test_spread_matches_hand_computed_quartiles(values, median, q25, q75):
    assert cv.spread(values) == pytest.approx({"n": len(values), "median_loss": median, "q25": q25, "q75": q75})


def test_assignments_give_every_depth_its_share_and_distinct_numbers(tmp_path, exp):
    got = [ce.assign(tmp_path, exp.code) for _ in range(5)]
    assert [(a.number, a.depth, a.seed) for a in got] == [(1, 20, 1), (2, 32, 1), (3, 20, 2), (4, 32, 2), (5, 20, 3)]
    more = []
    threads = [threading.Thread(target=lambda: more.append(ce.assign(tmp_path, exp.code))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.number for a in more) == list(range(6, 14))  # two at once never get one number
    assert ce.choose(tmp_path, exp.code, 3, 32, 99) == ce.Assignment(3, 32, 99)
    assert ce.Assignment(3, 32, 99) in ce.load(tmp_path, exp.code).assignments
    with pytest.raises(ValueError, match="measures depths 20, 32, not 44"):
        ce.choose(tmp_path, exp.code, 3, 44, 1)


def test_summary_and_verdict_by_hand(tmp_path, exp):
    for i, (p, r) in enumerate([(1.0, 0.5), (1.1, 0.6), (1.2, 0.7), (1.3, 0.8)]):
        ce.record_result(exp.path, pair(20, i, p, r, when=i))
    for i, (p, r) in enumerate([(1.0, 1.5), (2.0, 2.5), (3.0, 0.5)]):
        ce.record_result(exp.path, pair(32, i, p, r, when=10 + i))
    e = ce.load(tmp_path, exp.code)
    s = cv.summary(e)
    assert s[20]["plain"] == pytest.approx({"n": 4, "median_loss": 1.15, "q25": 1.075, "q75": 1.225})
    assert s[20]["residual"] == pytest.approx({"n": 4, "median_loss": 0.65, "q25": 0.575, "q75": 0.725})
    assert s[32]["residual"] == pytest.approx({"n": 3, "median_loss": 1.5, "q25": 1.0, "q75": 2.0})
    v20, v32 = cv.depth_verdict(e, 20), cv.depth_verdict(e, 32)
    assert v20.apart and v20.gap == pytest.approx(0.5) and v20.spread == pytest.approx(0.15) and v20.since == 3
    assert not v32.apart and v32.gap == pytest.approx(0.5) and v32.spread == pytest.approx(1.0)
    words = [translate(m) for m in cv.verdict(e)]
    assert words[0] == "Runs so far: 14, each pair a plain and a residual network."
    assert words[1].startswith("20 layers: the plain network's median final loss (1.150) is above the residual")
    assert "since seed 3 of 4" in words[1]
    assert "32 layers: the medians differ by 0.500" in words[2] and "do not tell them apart" in words[2]


def test_since_counts_the_seeds_from_which_the_gap_held(tmp_path, exp):
    plain, residual = [1.0, 0.4, 1.2, 1.1, 1.05], [0.5, 0.9, 0.7, 0.6, 0.65]
    for i, (p, r) in enumerate(zip(plain, residual, strict=True)):
        ce.record_result(exp.path, pair(20, i, p, r, when=i))
    v = cv.depth_verdict(ce.load(tmp_path, exp.code), 20)
    assert v.apart and v.n == 5 and v.since == 4  # three seeds overlapped (gap 0.3, spread 0.4); four did not


def test_too_few_seeds_claim_nothing(tmp_path, exp):
    ce.record_result(exp.path, pair(20, 1, 2.0, 0.1, when=1))
    ce.record_result(exp.path, pair(20, 2, 2.0, 0.1, when=2))
    words = [translate(m) for m in cv.verdict(ce.load(tmp_path, exp.code))]
    assert words[1] == "20 layers: 2 of the 3 pairs needed before the spread across seeds means anything."
    assert words[2] == "32 layers: no pairs yet."


def test_a_pair_is_recorded_once(tmp_path, exp):
    ce.record_result(exp.path, pair(20, 1, 2.0, 1.0, when=1))
    stamp = (exp.path / "results").stat().st_mtime_ns
    ce.record_result(exp.path, pair(20, 1, 9.0, 9.0, when=2))
    assert ce.load(tmp_path, exp.code).results[0].final_loss["plain"] == 2.0
    assert (exp.path / "results").stat().st_mtime_ns == stamp  # nothing written: polls keep the cache valid


def test_csv_opens_as_a_table(tmp_path, exp):
    ce.assign(tmp_path, exp.code)  # student 1: depth 20, seed 1
    ce.record_result(exp.path, pair(20, 1, 2.0, 1.0, when=1))
    ce.record_result(exp.path, pair(32, 4, 3.0, 1.5, when=2))
    rows = list(csv.reader(io.StringIO(cv.csv_text(ce.load(tmp_path, exp.code)))))
    assert rows[0] == ["depth", "kind", "seed", "final_loss", "heldout_acc", "steps", "student"]
    assert rows[1:] == [
        ["20", "plain", "1", "2.000000", "0.5000", "60", "1"],
        ["20", "residual", "1", "1.000000", "0.7000", "60", "1"],
        ["32", "plain", "4", "3.000000", "0.5000", "60", ""],
        ["32", "residual", "4", "1.500000", "0.7000", "60", ""],
    ]


def test_wrong_and_closed_codes_are_plain_errors(tmp_path, exp):
    with pytest.raises(ce.UnknownExperiment, match="No class experiment has the code ZZZZZZ"):
        ce.load(tmp_path, "zzzzzz")
    with pytest.raises(ce.UnknownExperiment, match="No class experiment has the code hello!"):
        ce.load(tmp_path, "hello!")
    ce.set_open(tmp_path, exp.code, False)
    with pytest.raises(ce.ExperimentClosed, match="is closed"):
        ce.assign(tmp_path, exp.code)
    assert ce.set_open(tmp_path, exp.code, True).open
    ce.assign(tmp_path, exp.code)


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: (p / "experiment.json").write_text('{"code": '),  # half-written
        lambda p: (p / "experiment.json").unlink(),
        lambda p: (p / "results" / "d20-s1.json").write_text(json.dumps({"depth": 20, "seed": 1})),
        lambda p: (p / "results" / "d20-s2.json").write_text((p / "results" / "d20-s1.json").read_text()),
        lambda p: (p / "assignments" / "0001.json").write_text('{"number": 1, "depth": "deep", "seed": 1}'),
        lambda p: (p / "results" / "d20-s1.json").write_text(
            (p / "results" / "d20-s1.json").read_text().replace("2.0", '"two"')
        ),
    ],
)
def test_a_folder_edited_by_hand_or_half_written_is_refused_in_plain_words(tmp_path, exp, damage):
    ce.assign(tmp_path, exp.code)
    ce.record_result(exp.path, pair(20, 1, 2.0, 1.0, when=1))
    ce.load(tmp_path, exp.code)
    damage(exp.path)
    with pytest.raises(ce.ExperimentDamaged) as e:
        ce.load(tmp_path, exp.code)
    assert str(e.value) == (
        f"The class experiment {exp.code} cannot be read: its folder was edited by hand or not written whole. "
        "Start a new experiment."
    )
