"""The class launcher's pieces without a class: nginx's configuration, the upload limit, stopping, plain errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import psutil
import pytest

from explorer.data.upload_limits import SERVER_MB
from explorer.deploy import launcher
from explorer.deploy.__main__ import main
from explorer.deploy.launcher import ROOT, Classroom, LaunchError, nginx_config, upload_limit_mb
from explorer.deploy.ports import free_port


def test_upload_limit_follows_streamlits_config(tmp_path):
    assert upload_limit_mb(ROOT) == SERVER_MB + 1  # .streamlit/config.toml: maxUploadSize, plus the form's framing
    assert upload_limit_mb(tmp_path) == 201  # no config: Streamlit's default, 200


def test_nginx_accepts_the_configuration(nginx, tmp_path):
    backends = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    text = nginx_config(f"127.0.0.1:{free_port()}", backends, tmp_path, 21)
    assert not re.search(r"@[A-Z_]+@", text)  # every field filled
    assert all(f"server {b} " in text for b in backends) and "client_max_body_size 21m;" in text
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    r = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def test_without_nginx_it_says_so_and_starts_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(launcher, "NGINX", str(tmp_path / "no-nginx"))
    room = Classroom(port=free_port(), directory=tmp_path / "logs")
    with pytest.raises(LaunchError, match="apt-get install nginx"):
        room.start()
    assert room.parts == []


def test_bad_counts_are_a_plain_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--servers", "0"])
    assert e.value.code == 2 and "--servers must be at least 1" in capsys.readouterr().err


def test_stop_ends_each_part_with_its_children(tmp_path):
    """A part's children (a nanny's worker, nginx's workers) go with it: stop signals the whole process group."""
    room = Classroom(directory=tmp_path)
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); time.sleep(120)"
    room._spawn("parent", [sys.executable, "-c", code], dict(os.environ), cwd=tmp_path)
    parent = psutil.Process(room.parts[0].proc.pid)
    deadline = time.monotonic() + 30
    while not parent.children() and time.monotonic() < deadline:
        time.sleep(0.1)
    child = parent.children()[0]
    room.stop()
    assert room.parts == [] and not parent.is_running()
    _, alive = psutil.wait_procs([child], timeout=10)
    assert all(p.status() == psutil.STATUS_ZOMBIE for p in alive)  # killed (dead, or a zombie init has not reaped)


def test_the_set_up_installs_the_project(tmp_path):
    """After `make install` (requirements.txt's `-e .`) explorer imports from any folder: dask workers need it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = "import explorer; print(explorer.__file__)"
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    if r.returncode and not os.environ.get("CI"):
        pytest.skip("this Python has not installed the project (make install does: requirements.txt's -e .)")
    assert r.returncode == 0, r.stderr
    assert os.path.samefile(r.stdout.strip(), ROOT / "explorer" / "__init__.py")  # editable: this clone
    assert os.access(launcher.DASK, os.X_OK)  # `dask worker` and `dask scheduler`, as the README runs them
