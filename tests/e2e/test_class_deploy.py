"""`make class` for real on loopback: a Dask scheduler and worker, two Streamlit processes, nginx in front.

A browser routed to server process 1 starts a training run; a second browser routed to process 2 opens the
same run by its link, watches it advance and presses Stop; both pages then say it stopped. nginx's access log
shows that every request of each browser (WebSocket, uploads, media) reached its one process.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict

import numpy as np
import psutil
import pytest
from PIL import Image

from explorer.deploy.launcher import Classroom
from explorer.deploy.ports import free_port
from tests.support.browser import no_exception, shot, upload_to_explain, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
STEP = re.compile(r"step (\d+) of \d+")
LOG_LINE = re.compile(r'"(\w+) (\S+) [^"]*" (\d+) .* route=(\S+) upstream=(\S+)')  # nginx.conf's log_format


@pytest.fixture(scope="module")
def classroom(nginx, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("class")
    env = {"EXPLORER_RUNS": str(tmp / "runs"), "EXPLORER_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
    room = Classroom(
        port=free_port(),
        host="127.0.0.1",
        servers=2,
        workers=1,
        scheduler_port=free_port(),
        directory=tmp / "logs",
        env=env,
    )
    with room:
        yield room


def served_by(url: str, route: str | None) -> tuple[str, str]:
    """(the process that answered, the route cookie nginx set) for one request with cookie ``route``."""
    req = urllib.request.Request(f"{url}/_stcore/health")
    if route:
        req.add_header("Cookie", f"explorer_route={route}")
    with urllib.request.urlopen(req, timeout=10) as r:
        cookies = [c for c in r.headers.get_all("Set-Cookie") or [] if c.startswith("explorer_route=")]
        return r.headers["X-Explorer-Server"], "".join(cookies)


def route_to(room: Classroom) -> dict[str, str]:
    """A route cookie for each server process: backend -> route."""
    routes: dict[str, str] = {}
    for i in range(200):
        backend, _ = served_by(room.url, f"r{i}")
        routes.setdefault(backend, f"r{i}")
        if len(routes) == len(room.backends):
            return routes
    raise AssertionError(f"200 routes reached only {sorted(routes)} of {room.backends}")


def test_each_browser_keeps_its_process(classroom):
    backend, cookie = served_by(classroom.url, None)
    assert backend in classroom.backends
    route = re.match(r"explorer_route=(\w+);", cookie).group(1)  # a new browser gets a route cookie
    for r in (route, "a", "b", "c", "d"):
        first, again = served_by(classroom.url, r)
        assert again == ""  # a browser with a route keeps it
        assert {served_by(classroom.url, r)[0] for _ in range(5)} == {first}
    assert set(route_to(classroom)) == set(classroom.backends)


def browser_on(browser, route: str, url: str):
    context = browser.new_context(viewport={"width": 1440, "height": 2000})
    context.add_cookies([{"name": "explorer_route", "value": route, "url": url}])
    page = context.new_page()
    page.set_default_timeout(120_000)
    return context, page


def step(page) -> int:
    return int(STEP.search(page.get_by_text(STEP).first.inner_text()).group(1))


def test_a_job_started_on_one_process_is_stopped_from_the_other(classroom, browser, tmp_path):
    url, (one, two) = classroom.url, classroom.backends
    routes = route_to(classroom)
    ctx1, p1 = browser_on(browser, routes[one], url)
    ctx2, p2 = browser_on(browser, routes[two], url)
    try:
        p1.goto(f"{url}/train")
        wait_idle(p1)
        p1.get_by_text("Quick: Plain-20 against ResNet-20", exact=False).click()
        wait_idle(p1)
        p1.get_by_role("button", name="Start training").click()
        p1.get_by_text(STEP).first.wait_for(timeout=180_000)
        run_id = re.search(r"[?&]run=(\w+)", p1.url).group(1)

        p2.goto(f"{url}/train?run={run_id}")  # the link the page gives, opened on the other process
        p2.get_by_text(STEP).first.wait_for(timeout=120_000)
        first, deadline = step(p2), time.time() + 120
        while step(p2) <= first and time.time() < deadline:  # process 2 follows the job process 1 started
            time.sleep(1)
        assert step(p2) > first
        p2.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()
        for p in (p2, p1):  # stopped for everyone watching, on either process
            p.get_by_text("Stopped after").first.wait_for(timeout=120_000)
            no_exception(p)
        shot(p2, "class-stopped-from-process-2")

        # process 2 also serves this browser's upload and the media files it draws from it
        photo = tmp_path / "noise.png"  # random pixels: larger than nginx's in-memory body buffer
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8)).save(photo)
        upload_to_explain(p2, url, str(photo))
        p2.locator('[data-testid="stPlotlyChart"]').filter(has_text="at layer3.2").first.wait_for()  # its Grad-CAM
        no_exception(p2)
    finally:
        ctx1.close()
        ctx2.close()
    paths = requests_by_route(classroom, [routes[one], routes[two]])
    for route, backend in ((routes[one], one), (routes[two], two)):
        assert set(paths[route].values()) == {backend}, paths[route]  # every request of a browser: one process
        assert any(p.startswith("/media/") for p in paths[route])  # the run's downloads
    assert any(p.startswith("/_stcore/upload_file/") for p in paths[routes[two]])


def requests_by_route(room: Classroom, routes: list[str], timeout: float = 30) -> dict[str, dict[str, str]]:
    """route -> {path: process} from nginx's access log, once each route's WebSocket is logged (at its close)."""
    deadline = time.time() + timeout
    while True:
        paths: dict[str, dict[str, str]] = defaultdict(dict)
        for line in (room.directory / "access.log").read_text().splitlines():
            m = LOG_LINE.search(line)
            if m and m.group(4) in routes:
                assert int(m.group(3)) < 500, line
                path = m.group(2).split("?")[0]
                if paths[m.group(4)].setdefault(path, m.group(5)) != m.group(5):
                    paths[m.group(4)][path] = "two processes"
        if all("/_stcore/stream" in paths[r] for r in routes) or time.time() > deadline:
            return paths
        time.sleep(0.5)


def test_make_class_command_serves_and_ctrl_c_stops_everything(nginx, tmp_path):
    """What `make class` runs, as a subprocess: it serves through nginx, and SIGINT leaves no process behind."""
    port = free_port()
    cmd = [sys.executable, "-m", "explorer.deploy", "--port", str(port), "--host", "127.0.0.1", "--servers", "1"]
    cmd += ["--workers", "0", "--scheduler-port", str(free_port())]
    out = tmp_path / "launcher.log"
    with open(out, "wb") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 180
        while "Ctrl-C stops everything" not in out.read_text() and time.time() < deadline:
            assert proc.poll() is None, out.read_text()
            time.sleep(0.3)
        started = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in started)
        assert "dask scheduler" in names and "streamlit run" in names and "nginx" in names
        assert served_by(f"http://127.0.0.1:{port}", None)[0]  # nginx answers, through the one server process
        os.kill(proc.pid, signal.SIGINT)  # Ctrl-C
        assert proc.wait(60) == 0, out.read_text()
        _, alive = psutil.wait_procs(started, timeout=10)
        assert all(p.status() == psutil.STATUS_ZOMBIE for p in alive), [p.cmdline() for p in alive]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
