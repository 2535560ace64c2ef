"""Browser helpers shared by the browser tests (tests/e2e) and the latency bench (bench/bench_app.py).

A real Streamlit server on a loopback port, driven by Debian's Chromium through playwright.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.server import (
    streamlit_command,
)

ROOT = Path(__file__).resolve().parents[2]  # the repository: app.py is here
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "artifacts" / "screenshots"))


def start_server(port: int) -> subprocess.Popen:
    """`streamlit run app.py` as a user starts it, on 127.0.0.1:port, saving runs in a new empty folder.

    A fresh folder each time: a finished run of the same job left by an earlier test session would open at
    once, finished, instead of training (the engine reuses what identical inputs already computed).
    """
    runs = tempfile.mkdtemp(prefix="e2e-runs-", dir=ROOT / "artifacts" if (ROOT / "artifacts").is_dir() else None)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "EXPLORER_RUNS": runs}
    cmd = streamlit_command(port)
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120) -> float:
    """Seconds until the server answers its health check."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("streamlit did not start")


@contextmanager
def browser_page(browser, height: int = 1000, timeout_s: float = 60) -> Iterator:
    """A fresh page (its own context: no shared cookies or session) 1440 pixels wide; closed on exit."""
    context = browser.new_context(viewport={"width": 1440, "height": height})
    try:
        pg = context.new_page()
        pg.set_default_timeout(timeout_s * 1000)
        yield pg
    finally:
        context.close()


def wait_idle(page, timeout: float = 120) -> None:
    """Until the app has rendered and no script run is in progress."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    # every page starts with a title: wait until the script has drawn it (or failed)
    page.wait_for_selector('[data-testid="stMain"] h1, [data-testid="stException"]', timeout=timeout * 1000)
    t0 = time.time()
    idle_since = None
    while time.time() - t0 < timeout:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        skeleton = page.locator('[data-testid="stSkeleton"]').count() > 0
        if running or skeleton:
            idle_since = None
        elif idle_since is None:
            idle_since = time.time()
        elif time.time() - idle_since > 0.5:
            return
        time.sleep(0.1)
    raise TimeoutError("the app stayed busy")


STEPS = '[data-testid="stMain"] [data-testid="stExpander"]:has([data-testid="stExpanderStepIcon"]) summary'


def open_step(page, index: int) -> None:
    """Open the lesson step at ``index`` (0: the first) of the page, as a reader's click on its title does."""
    step = page.locator(STEPS).nth(index)
    if step.get_attribute("aria-expanded") == "false":
        step.click()
        wait_idle(page)


def upload_to_explain(page, url: str, path: str) -> None:
    """Open Explain on ``url``, pick Upload and give it the file at ``path``; returns once its name shows."""
    page.goto(f"{url}/explain")
    wait_idle(page)
    page.get_by_test_id("stRadio").get_by_text("Upload", exact=True).click()
    wait_idle(page)
    page.locator('input[type="file"]').first.set_input_files(path)
    page.get_by_text(Path(path).name).first.wait_for()
    wait_idle(page)


def no_exception(page) -> None:
    """No Streamlit exception box and no traceback text on the page."""
    assert page.locator('[data-testid="stException"]').count() == 0
    body = page.inner_text("body")
    assert "Traceback" not in body and "Page not found" not in body


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
