"""One machine serving a class: a Dask scheduler, its workers, N Streamlit processes and nginx in front.

One ``streamlit run`` process is one core (the GIL) however many students it serves. ``make class`` (or
``python -m explorer.deploy``) starts, on this machine and with the project's own Python:

- ``dask scheduler`` (in a fresh folder: it needs nothing of the project) unless ``--scheduler`` names one;
- ``dask worker ... --nthreads 1 --nworkers W`` in the project folder (datasets are read from ``./data``);
- N ``streamlit run app.py`` processes on free loopback ports, all with ``EXPLORER_SCHEDULER`` (they share
  jobs) and one cookie secret (one browser's XSRF token is valid on every process);
- Debian's nginx on ``--port`` (8501), routing each browser to one process by a route cookie
  (``explorer/deploy/nginx.conf`` says why), the WebSocket and the HTTP requests alike.

Each runs in its own process group and dies with the launcher; Ctrl-C, SIGTERM or any of them exiting
stops them all. Their logs go to one folder, printed at start.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from explorer.deploy.ports import free_port
from explorer.engine.client import SCHEDULER_ENV, worker_environ, worker_threads

ROOT = Path(__file__).resolve().parents[2]  # the clone: app.py and .streamlit/config.toml
TEMPLATE = Path(__file__).with_name("nginx.conf")
NGINX = "/usr/sbin/nginx"  # Debian's package: apt-get install nginx
# Dask's own command, as the README runs it: unlike `python -m dask`, it imports `explorer` only where the
# set-up installed it (requirements.txt's `-e .`), never from the current folder
DASK = str(Path(sys.executable).with_name("dask"))
START_TIMEOUT_S = 180.0  # on a busy machine Streamlit imports torch slowly; never wait forever
STOP_TIMEOUT_S = 15.0


class LaunchError(RuntimeError):
    """A part of the class set-up could not start: the message says which, in plain words."""


def upload_limit_mb(root: Path = ROOT) -> int:
    """Streamlit's upload limit from the app's config (its default: 200), plus room for the form's framing."""
    path = root / ".streamlit" / "config.toml"
    config = tomllib.loads(path.read_text()) if path.is_file() else {}
    return int(config.get("server", {}).get("maxUploadSize", 200)) + 1


def nginx_config(listen: str, backends: list[str], directory: Path, upload_mb: int) -> str:
    """The nginx configuration: ``listen`` (``8501`` or ``127.0.0.1:8501``) in front of ``backends`` (host:port)."""
    servers = "\n".join(f"        server {b} max_fails=0;" for b in backends)
    text = TEMPLATE.read_text()
    for name, value in {
        "DIR": str(directory),
        "LISTEN": listen,
        "SERVERS": servers,
        "UPLOAD_MB": str(upload_mb),
    }.items():
        text = text.replace(f"@{name}@", value)
    return text


def _die_with_parent() -> None:
    """In the child before exec: its own process group, and SIGTERM when the launcher dies (Linux)."""
    os.setsid()
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class Part:
    name: str
    proc: subprocess.Popen
    log: Path


@dataclass
class Classroom:
    """Everything ``make class`` runs; ``with Classroom(...) as c:`` starts it, leaving stops it all.

    ``env``: extra environment for the scheduler, workers and servers (tests give ``EXPLORER_RUNS``).
    """

    port: int = 8501
    servers: int = 2
    workers: int = 1
    host: str = ""  # nginx listens here ("" for every interface)
    scheduler: str = ""  # an existing scheduler's address; "" starts one
    scheduler_host: str = "127.0.0.1"
    scheduler_port: int = 8786
    directory: Path | None = None  # logs and nginx's files; None: a new temporary folder
    env: dict[str, str] = field(default_factory=dict)
    parts: list[Part] = field(default_factory=list)
    backends: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host or '127.0.0.1'}:{self.port}"

    def __enter__(self) -> Classroom:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        if not os.access(NGINX, os.X_OK):
            raise LaunchError(f"nginx is not installed ({NGINX}): apt-get install nginx, as root")
        if not (ROOT / "app.py").is_file():
            raise LaunchError(f"app.py is not in {ROOT}: run this from a clone of the project")
        self.directory = Path(self.directory or tempfile.mkdtemp(prefix="explorer-class-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o755)  # nginx runs its workers as nobody when started as root
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        if not self.scheduler:
            host, port = self.scheduler_host, str(self.scheduler_port)
            local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # this machine's parts connect here
            self.scheduler = f"tcp://{local}:{port}"
            cmd = [DASK, "scheduler", "--host", host, "--port", port, "--no-dashboard"]
            self._spawn("scheduler", cmd, env, cwd=self.directory)
            self._wait_tcp(self.parts[-1], local, self.scheduler_port)
        env[SCHEDULER_ENV] = self.scheduler
        if self.workers > 0:
            cmd = [DASK, "worker", self.scheduler, "--nthreads", "1"]
            cmd += ["--nworkers", str(self.workers), "--no-dashboard"]
            environ = {**env, **worker_environ(), **worker_threads(self.workers)}  # Dask's knob: no malloc trimming
            self._spawn("workers", cmd, environ, cwd=ROOT)
        env["STREAMLIT_SERVER_COOKIE_SECRET"] = secrets.token_hex(32)  # the same on every server process
        for i in range(1, self.servers + 1):
            port = free_port()
            cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port)]
            cmd += ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
            self._spawn(f"server {i}", cmd, env, cwd=ROOT)
            self.backends.append(f"127.0.0.1:{port}")
        for part, backend in zip(self.parts[-self.servers :], self.backends, strict=True):
            self._wait_http(part, f"http://{backend}/_stcore/health")
        listen = f"{self.host}:{self.port}" if self.host else str(self.port)
        conf = self.directory / "nginx.conf"
        conf.write_text(nginx_config(listen, self.backends, self.directory, upload_limit_mb()))
        cmd = [NGINX, "-p", str(self.directory), "-c", str(conf), "-e", str(self.directory / "error.log")]
        self._spawn("nginx", cmd, env, cwd=self.directory)
        self._wait_http(self.parts[-1], f"{self.url}/_stcore/health")

    def stop(self) -> None:
        """Stop every part it started, newest first: SIGTERM to each process group, SIGKILL after a while."""
        parts, self.parts = self.parts[::-1], []
        for p in parts:
            _signal_group(p.proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for p in parts:
            try:
                p.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(p.proc, signal.SIGKILL)  # and whatever its children left behind
            p.proc.wait()

    def exited(self) -> Part | None:
        """The first part that has exited on its own, if any."""
        return next((p for p in self.parts if p.proc.poll() is not None), None)

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path) -> None:
        log = self.directory / f"{name.replace(' ', '-')}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )  # fmt: skip
        self.parts.append(Part(name, proc, log))

    def _wait_tcp(self, part: Part, host: str, port: int) -> None:
        self._wait(part, lambda: socket.create_connection((host, port), timeout=2).close())

    def _wait_http(self, part: Part, url: str) -> None:
        def ok() -> None:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status != 200:
                    raise OSError(r.status)

        self._wait(part, ok)

    def _wait(self, part: Part, check) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if part.proc.poll() is not None:
                raise LaunchError(f"{part.name} exited at start (code {part.proc.returncode}):\n{tail(part.log)}")
            try:
                check()
                return
            except OSError:
                time.sleep(0.3)
        raise LaunchError(f"{part.name} did not answer within {START_TIMEOUT_S:.0f} s:\n{tail(part.log)}")


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # the part is its group's leader (setsid)
    except (ProcessLookupError, PermissionError):
        pass


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log, to say why a part stopped."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def serve(classroom: Classroom) -> int:
    """Start everything, print where it is, and keep it up until Ctrl-C, SIGTERM or a part exits."""

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a shell may start it with SIGINT ignored
        signal.signal(sig, interrupted)
    try:
        with classroom as c:
            where = c.url if c.host else f"http://localhost:{c.port} (every interface)"
            print(f"ResNet Explorer for a class: {where}", flush=True)
            print(
                f"  {len(c.backends)} server processes behind nginx, jobs on {c.scheduler} ({c.workers} workers here)"
            )
            if c.scheduler_host in ("0.0.0.0", "::"):
                print(
                    f"  workers on other machines: .venv/bin/dask worker tcp://SERVER:{c.scheduler_port} --nthreads 1"
                )
            print(f"  logs in {c.directory}; Ctrl-C stops everything", flush=True)
            while (gone := c.exited()) is None:
                time.sleep(0.5)
            print(f"{gone.name} exited (code {gone.proc.returncode}); stopping the rest:\n{tail(gone.log)}")
            return 1
    except LaunchError as e:
        print(f"could not start the class set-up: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped", flush=True)
        return 0


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
