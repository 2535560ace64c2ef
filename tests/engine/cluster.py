"""A Dask cluster started with Dask's own commands for the engine's tests: a scheduler from a folder outside the
project that cannot import ``explorer``, and ``dask worker`` processes; each in its own process group, always
killed at the end. ``tests/conftest.py`` starts one for the whole run (the ``cluster`` fixture)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from explorer.deploy.ports import free_port
from explorer.engine import client as engine_client

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120  # the machine may be busy: processes start slowly, but never wait forever
# `dask scheduler`, as the README starts it, in a Python that cannot import this project even where it is installed
SCHEDULER = "import sys; sys.modules['explorer'] = None; from dask.cli import run_cli; run_cli()"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", engine_client.SCHEDULER_ENV)}
    return {**env, "EXPLORER_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1", **extra}


def spawn(args: list[str], log: Path, cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    """A process in its own process group (so killing it takes its children too)."""
    with open(log, "wb") as f:
        return subprocess.Popen(args, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)


def kill(proc: subprocess.Popen | None, sig=signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


class Cluster:
    """A scheduler and workers started with Dask's own commands, from a folder outside the project."""

    def __init__(self, home: Path, preload: Path | None = None) -> None:
        self.home, self.workers = home, []
        self.address = f"tcp://127.0.0.1:{free_port()}"
        port = self.address.rsplit(":", 1)[1]
        args = [sys.executable, "-c", SCHEDULER, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"]
        args += ["--preload", str(preload)] if preload else []
        # Dask's developer logs (transitions, events) keep their last 1000 entries, about 2 MB of a busy scheduler:
        # 100 here, so that the memory test's warm-up fills them and what it measures is what jobs leave behind
        env = clean_env(DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH="100")
        self.scheduler = spawn(args, home / "scheduler.log", home, env)

    def add_worker(self) -> subprocess.Popen:
        n = len(self.workers)
        args = [sys.executable, "-m", "dask", "worker", self.address, "--nthreads", "1", "--host", "127.0.0.1"]
        # Workers import explorer. Until the set-up installs the project (`pip install -e .`, on its way from
        # another branch) they find it through PYTHONPATH; the scheduler never gets it.
        env = clean_env(PYTHONPATH=str(ROOT))
        self.workers.append(spawn([*args, "--no-dashboard"], self.home / f"worker{n}.log", self.home, env))
        return self.workers[-1]

    def wait_for_workers(self, n: int) -> None:
        engine_client.client().wait_for_workers(n, timeout=START_TIMEOUT)

    def close(self) -> None:
        for w in self.workers:
            kill(w)
        kill(self.scheduler)


def wait_until(pred, timeout=START_TIMEOUT, poll=0.2):
    end = time.time() + timeout
    while time.time() < end:
        value = pred()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError("timed out")
