"""Fixtures for the browser tests: a real server and Chromium (helpers in ``tests.support.browser``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from explorer.deploy.ports import free_port
from tests.support.browser import ARGS, CHROMIUM, browser_page, start_server, wait_healthy


@pytest.fixture(scope="session")
def server():
    port = free_port()
    proc = start_server(port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # a fake camera that needs no permission prompt: st.camera_input takes Chromium's test pattern
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[*ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    with browser_page(browser) as pg:
        yield pg
