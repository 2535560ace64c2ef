"""A real `streamlit run app.py` on a free loopback port, for load tests and concurrent-session tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from explorer.deploy.ports import free_port


def streamlit_command(port: int, script: str | Path = "app.py") -> list[str]:
    """`streamlit run script` as a user starts it, on 127.0.0.1:port only, with no browser opened."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)]
    return cmd + ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]


def start_server(
    root: Path, env: dict[str, str] | None = None, log: Path | None = None, timeout: float = 120.0
) -> tuple[subprocess.Popen, str]:
    """Start the app as a user does, on 127.0.0.1 only (its output to ``log``); returns (process, url)."""
    port = free_port()
    cmd = streamlit_command(port)
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - the server keeps writing to it
    proc = subprocess.Popen(cmd, cwd=root, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    raise TimeoutError("streamlit did not start")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
