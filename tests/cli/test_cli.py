"""python -m explorer, run as a user runs it."""

import json
import os
import subprocess
import sys
from functools import partial

from tests.support.cli import two_at_a_time


def run(*args):
    return subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True, timeout=300)


def test_summary_json_for_resnet50():
    r = run("summary", "--family", "imagenet", "--depth", "50", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["params"] == 25_557_032
    assert data["macs"] == 4_089_184_256
    assert any(layer["name"] == "layer4.2.conv3" for layer in data["layers"])


def test_summary_table_for_plain_cifar():
    r = run("summary", "--depth", "20", "--plain")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Plain-20")
    assert "layer3.2.conv2" in r.stdout


def test_bad_depth_is_a_clear_error_not_a_traceback():
    r = run("summary", "--depth", "21")
    assert r.returncode == 2
    assert "6n+2" in r.stderr and "Traceback" not in r.stderr


def test_job_commands_without_a_scheduler_say_so_in_one_line():
    env_free = {k: v for k, v in os.environ.items() if k != "EXPLORER_SCHEDULER"}

    def run_free(*args):
        cmd = [sys.executable, "-m", "explorer", *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env_free, timeout=300)

    commands = [
        ("jobs",),
        ("watch", "0123456789abcdef"),
        ("stop", "0123456789abcdef"),
        ("train", "--steps", "1", "--detach"),
    ]
    *answers, detach = two_at_a_time([partial(run_free, *args) for args in commands])  # each in its own interpreter
    for r in answers:
        assert r.returncode == 4 and r.stderr.strip().startswith("error: no scheduler"), r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert detach.returncode == 2 and "--detach needs a scheduler" in detach.stderr and "Traceback" not in detach.stderr


def test_a_missing_or_bad_run_file_or_data_is_one_plain_line(tmp_path):
    """Every command that reads a run, a file or a dataset: one line on stderr, a non-zero exit, no traceback."""
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    (tmp_path / "badrun").mkdir()
    (tmp_path / "badrun" / "config.json").write_text("{not json")
    out = str(tmp_path / "o.json")
    runs = ["--root", str(tmp_path / "runs")]
    cases = {
        ("landscape", "--run", str(tmp_path / "missing"), "--network", "ResNet-56", "--out", out): "not a run",
        ("landscape", "--run", str(tmp_path / "badrun"), "--network", "ResNet-56", "--out", out): "cannot read",
        ("saliency", "--run", str(tmp_path / "missing"), "--network", "ResNet-56", "--out", out): "not a run",
        ("train", "--dataset", "cifar10", "--data-root", str(tmp_path / "data"), "--steps", "1", *runs): "--download",
        ("train", "--dataset", str(tmp_path / "bad.zip"), "--steps", "1", *runs): "bad.zip could not be opened",
    }
    answers = two_at_a_time([partial(run, *args) for args in cases])  # each in its own interpreter
    for (args, words), r in zip(cases.items(), answers, strict=True):
        lines = r.stderr.strip().splitlines()
        assert r.returncode != 0 and len(lines) == 1 and lines[0].startswith("error: "), (args, r.stderr)
        assert words in lines[0] and "Traceback" not in r.stderr and "Error:" not in lines[0], (args, lines)
