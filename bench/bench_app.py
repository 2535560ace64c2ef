"""App latency through a real browser: server start to first page, and widget change to updated view.

Prints seconds from the action until the updated view is on the screen (the text that only the new
view has is visible). Goal on 2 CPU cores: under 0.5 s for CIFAR-sized models,
under 1.5 s for ResNet-50 Grad-CAM.

    .venv/bin/python -m bench.bench_app
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer.testing.browser import ARGS, CHROMIUM, free_port, start_server, wait_healthy, wait_idle  # noqa: E402


def until(page, action, text: str) -> float:
    """Seconds from an action until ``text`` is on the page (the updated view is drawn)."""
    t0 = time.perf_counter()
    action()
    page.get_by_text(text, exact=True).first.wait_for(state="visible", timeout=120_000)
    return time.perf_counter() - t0


def report(what: str, times: list[float]) -> None:
    print(f"{what}: median {statistics.median(times):.2f} s, max {max(times):.2f} s over {len(times)} changes")


def main() -> None:
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
