"""App latency through a real browser: server start to first page, and widget change to updated view.

Prints seconds from the action until the updated view is on the screen (the text that only the new
view has is visible). Goal on 2 CPU cores: under 0.5 s for CIFAR-sized models,
under 1.5 s for ResNet-50 Grad-CAM.

--startup: `streamlit run` to the first page (Learn, at /) drawn and idle in Chromium, against a one-line
Streamlit app started the same way, in interleaved rounds; besides wall seconds (goal 4 s) it prints the
CPU-seconds of the server up to that moment and of Chromium drawing the page, which other processes on a
shared machine do not inflate, so the differences are what the app adds above Streamlit's own start-up.

    .venv/bin/python -m bench.bench_app
    .venv/bin/python -m bench.bench_app --startup --rounds 3
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from explorer.deploy.ports import free_port
from tests.support.browser import ARGS, CHROMIUM, start_server, wait_healthy, wait_idle
from tests.support.server import streamlit_command

ROOT = Path(__file__).resolve().parents[1]

BARE_APP = 'import streamlit as st\n\nst.title("hello")\n'


def until(page, action, text: str) -> float:
    """Seconds from an action until ``text`` is on the page (the updated view is drawn)."""
    t0 = time.perf_counter()
    action()
    page.get_by_text(text, exact=True).first.wait_for(state="visible", timeout=120_000)
    return time.perf_counter() - t0


def report(what: str, times: list[float]) -> None:
    print(f"{what}: median {statistics.median(times):.2f} s, max {max(times):.2f} s over {len(times)} changes")


def browser_cpu() -> float:
    """CPU-seconds of the Chromium processes this process started (through playwright's driver)."""
    import psutil

    total = 0.0
    for p in psutil.Process().children(recursive=True):
        try:
            if "chrom" in p.name():
                cpu = p.cpu_times()
                total += cpu.user + cpu.system
        except psutil.Error:  # a renderer that ended meanwhile
            pass
    return total


def first_page(browser, script: Path | None) -> tuple[float, float, float, float]:
    """(seconds to healthy, seconds to the first page drawn and idle, server CPU-seconds by then, Chromium's
    CPU-seconds from opening the page until then) from `streamlit run` of ``script`` (None: the app)."""
    import subprocess

    import psutil

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    if script is None:
        proc = start_server(port)
    else:
        cmd = streamlit_command(port, script)
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        healthy = wait_healthy(url, proc)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        drawing = browser_cpu()
        page.goto(url)
        wait_idle(page)
        first = time.perf_counter() - t0
        cpu = psutil.Process(proc.pid).cpu_times()
        drawing = browser_cpu() - drawing
        page.close()
        return healthy, first, cpu.user + cpu.system, drawing
    finally:
        proc.terminate()
        proc.wait(20)


def startup(rounds: int) -> None:
    import tempfile

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        bare = Path(tmp) / "bare_app.py"
        bare.write_text(BARE_APP)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            first_page(browser, bare)  # warm the file cache for both
            runs = {"one-line app": [], "explorer": []}
            for _ in range(rounds):
                runs["one-line app"].append(first_page(browser, bare))
                runs["explorer"].append(first_page(browser, None))
        finally:
            browser.close()
    med = {k: [statistics.median(r[i] for r in v) for i in range(4)] for k, v in runs.items()}
    for k, (healthy, first, cpu, drawing) in med.items():
        print(
            f"{k:<13} healthy {healthy:.2f} s, first page drawn {first:.2f} s, server CPU by then {cpu:.2f} s, "
            f"Chromium CPU drawing it {drawing:.2f} s"
        )
    (_h0, f0, c0, b0), (_h1, f1, c1, b1) = med["one-line app"], med["explorer"]
    print(
        f"explorer above Streamlit's own start-up: {f1 - f0:+.2f} s wall ({f1:.2f} s, goal 4 s), "
        f"{c1 - c0:+.2f} server CPU-s, {b1 - b0:+.2f} Chromium CPU-s (medians of {rounds} interleaved rounds)"
    )


def main() -> None:
    if "--startup" in sys.argv:
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
        startup(rounds)
        return
    from playwright.sync_api import sync_playwright

    port = free_port()
    t0 = time.perf_counter()
    proc = start_server(port)
    url = f"http://127.0.0.1:{port}"
    try:
        healthy = wait_healthy(url, proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"{url}/build")
            wait_idle(page)
            first = time.perf_counter() - t0
            print(f"server healthy after {healthy:.2f} s; first page (Build) rendered after {first:.2f} s")

            toggle = page.get_by_test_id("stCheckbox").get_by_text("Residual connections")
            times = []
            for _ in range(3):
                times.append(until(page, toggle.click, "plain: no shortcuts"))
                times.append(until(page, toggle.click, "identity shortcut"))
            report("Build, toggle residual (ResNet-20 diagram + summary)", times)

            page.goto(f"{url}/explain")
            wait_idle(page)
            raw = page.get_by_test_id("stCheckbox").get_by_text("Raw (signed, unscaled)")
            twin = page.get_by_test_id("stCheckbox").get_by_text("Show its twin side by side")
            twin.click()  # one network: the latency of one Grad-CAM view
            wait_idle(page)
            times = []
            for _ in range(3):
                times.append(until(page, raw.click, "signed"))
                times.append(until(page, raw.click, "evidence"))
            report("Explain, toggle raw Grad-CAM (ResNet-20, trained, 32x32)", times)

            page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first.click()
            page.get_by_role("option", name="The network in the sidebar, untrained").click()
            wait_idle(page)
            page.get_by_test_id("stSidebar").get_by_text("ImageNet", exact=True).click()
            wait_idle(page)
            page.get_by_test_id("stRadio").get_by_text("Photo sample", exact=True).click()
            wait_idle(page)
            times = []
            for _ in range(3):
                times.append(until(page, raw.click, "signed"))
                times.append(until(page, raw.click, "evidence"))
            report("Explain, toggle raw Grad-CAM (ResNet-50, 224x224)", times)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
