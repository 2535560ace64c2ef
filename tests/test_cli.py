"""python -m explorer, run as a user runs it."""

import json
import os
import subprocess
import sys


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
    for args in (("jobs",), ("watch", "0123456789abcdef"), ("stop", "0123456789abcdef")):
        r = subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True, env=env_free,
                           timeout=300)  # fmt: skip
        assert r.returncode == 4 and r.stderr.strip().startswith("error: no scheduler"), r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    r = subprocess.run([sys.executable, "-m", "explorer", "train", "--steps", "1", "--detach"], capture_output=True,
                       text=True, env=env_free, timeout=300)  # fmt: skip
    assert r.returncode == 2 and "--detach needs a scheduler" in r.stderr and "Traceback" not in r.stderr
