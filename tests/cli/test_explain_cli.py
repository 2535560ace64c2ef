"""``python -m explorer explain``: a folder holding the crafted corpus, as a user runs it; the exit statuses."""

import csv
from pathlib import Path

import numpy as np

from explorer.cli.parser import main
from tests.support.cli import ROOT, run_cli
from tests.support.crafted import corpus, photo, write_corpus

SHAPES = str(ROOT / "assets" / "runs" / "shapes")


def test_a_folder_with_the_crafted_corpus_inside(tmp_path):
    folder = write_corpus(tmp_path / "in" / "holiday")
    out = tmp_path / "work" / "out"
    r = run_cli("explain", str(folder), "--run", SHAPES, "--run-network", "ResNet-20", "--out", str(out))
    assert r.returncode == 3, r.stderr  # some skipped
    assert "Traceback" not in r.stderr + r.stdout
    skipped = [line for line in r.stdout.splitlines() if line.startswith("skipped ")]
    assert sorted(line.split(":")[0] for line in skipped) == [
        "skipped holiday/bomb.zip/bomb.png",
        "skipped holiday/climbing.zip",
        "skipped holiday/huge.png",
        "skipped holiday/notes.jpg",
        "skipped holiday/truncated.png",
    ]
    assert "7/7 images" in r.stderr  # the progress bar's last state
    good = sum(ok for _, ok in corpus().values()) + 1  # and the good picture inside the zip bomb
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert len(rows) == good and {r["network"] for r in rows} == {"ResNet-20, trained (shapes, 400 steps)"}
    assert all(r["method"] == "gradcam" and r["layer"] == "layer3.2" for r in rows)
    assert len(list((out / "overlays").glob("*.png"))) == good and len(list((out / "maps").glob("*.npy"))) == good
    cam = np.load(out / "maps" / "holiday__good.npy")
    assert cam.shape == (24, 24) and cam.min() >= 0 and cam.max() <= 1
    written = {p for p in tmp_path.rglob("*") if p.is_file()} - {p for p in (tmp_path / "in").rglob("*")}
    assert all(p.is_relative_to(out) for p in written)  # nothing outside --out (the climbing zip's ../../evil.png)
    assert not list(tmp_path.rglob("evil.png"))


def test_nothing_skipped_is_exit_0_and_a_class_target(tmp_path, capsys):
    for i in range(3):
        (tmp_path / f"p{i}.png").write_bytes(photo(i))
    out = tmp_path / "out"
    code = main(["explain", *map(str, sorted(tmp_path.glob("*.png"))), "--run", SHAPES, "--target", "star",
                 "--method", "Saliency", "--out", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr()
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert [r["file"] for r in rows] == ["p0.png", "p1.png", "p2.png"]
    assert {r["explained_class"] for r in rows} == {"star"} and {r["method"] for r in rows} == {"saliency"}


def test_a_network_it_cannot_load_is_one_plain_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "p.png").write_bytes(photo(0))
    bad = tmp_path / "weights.pth"
    bad.write_bytes(b"not a checkpoint")
    for net in (["--network", str(bad)], ["--network", "ResNet-7"], ["--run", str(tmp_path / "nowhere")]):
        assert main(["explain", str(tmp_path / "p.png"), *net, "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: cannot load the network") and "Traceback" not in err[0]
    assert not (tmp_path / "out").exists()


def test_unknown_method_and_target_are_plain_errors(tmp_path, capsys):
    (tmp_path / "p.png").write_bytes(photo(0))
    base = ["explain", str(tmp_path / "p.png"), "--run", SHAPES, "--out", str(tmp_path / "out")]
    assert main([*base, "--method", "magic"]) == 2
    assert "unknown method" in capsys.readouterr().err
    assert main([*base, "--target", "unicorn"]) == 2
    assert "--target must be" in capsys.readouterr().err
    assert not Path(tmp_path / "out").exists()
