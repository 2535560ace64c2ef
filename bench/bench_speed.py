"""Every speed goal in one run, each figure next to its goal.

    python -m bench.bench_speed                 # all sections (about 3-6 minutes on 2 loaded cores)
    python -m bench.bench_speed --only views    # one section: strip, capture, views, start, device

1. strip:   the film-strip (Grad-CAM at every block, one forward + one backward) / one Grad-CAM; goal <= 2x.
2. capture: feature maps of the stem and every block (one hooked forward) / one plain forward; goal <= 1.2x.
3. views:   server-side script-run time of a widget change (Streamlit's AppTest: no browser, no drawing);
            goals 0.25 s for CIFAR nets on Build and Explain, 1 s for ResNet-50 Grad-CAM.
4. start:   `streamlit run` to the first page drawn and idle in Chromium; goal 4 s on 2 cores. The floor is
            a one-line Streamlit app started the same way in the same run.
5. device:  the film-strip on the GPU against the CPU, when there is a GPU.

Ratios are what count on a shared machine: each is measured against its floor in interleaved rounds, on one
torch thread, and timed by this thread's CPU clock (``time.thread_time``), which other processes do not
advance; the best round is kept. Seconds for views and start-up are wall-clock and rise with load.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from explorer.interpret.gradcam import filmstrip, grad_cam
from explorer.interpret.probes import all_feature_maps, feature_layers
from explorer.models.resnet import build_resnet

ROOT = Path(__file__).resolve().parents[1]

CASES = (("ResNet-50", "imagenet", 50, 224, 4), ("ResNet-20", "cifar", 20, 32, 30))


def verdict(value: float, goal: float, unit: str = "") -> str:
    return f"goal <= {goal:g}{unit}: {'ok' if value <= goal else 'MISSED'}"


def best_of(fns: dict, rounds: int, clock=time.thread_time) -> dict[str, float]:
    """Best time of each function over interleaved rounds (after one warm-up call each)."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t0 = clock()
            fn()
            times[k].append(clock() - t0)
    return {k: min(v) for k, v in times.items()}


def bench_strip() -> None:
    print("1. Film-strip (every block, one forward + one backward) / one Grad-CAM (last block)")
    for label, family, depth, size, rounds in CASES:
        model = build_resnet(family=family, depth=depth).eval()
        x = torch.randn(3, size, size, generator=torch.Generator().manual_seed(0))
        t = best_of({"cam": lambda m=model, x=x: grad_cam(m, x), "strip": lambda m=model, x=x: filmstrip(m, x)}, rounds)
        ratio = t["strip"] / t["cam"]
        print(
            f"   {label} {size}x{size}: Grad-CAM {1e3 * t['cam']:.1f} ms, film-strip of "
            f"{len(feature_layers(model)) - 1} blocks {1e3 * t['strip']:.1f} ms: {ratio:.2f}x ({verdict(ratio, 2)})"
        )


def bench_capture() -> None:
    print("2. Feature maps of the stem and every block (one hooked forward) / one plain forward")
    for label, family, depth, size, rounds in CASES:
        model = build_resnet(family=family, depth=depth).eval()
        x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))

        def forward(m=model, x=x):
            with torch.no_grad():
                m(x)

        t = best_of({"forward": forward, "capture": lambda m=model, x=x: all_feature_maps(m, x)}, rounds * 2)
        ratio = t["capture"] / t["forward"]
        print(
            f"   {label} {size}x{size}: forward {1e3 * t['forward']:.1f} ms, {len(feature_layers(model))} layers "
            f"captured {1e3 * t['capture']:.1f} ms: {ratio:.2f}x ({verdict(ratio, 1.2)})"
        )


def _rerun_times(at, widget, values: list, rounds: int = 1) -> tuple[list[float], list[float]]:
    """(wall seconds, CPU seconds of this process) of each rerun after setting the widget to each value.

    Values are new to the page's caches (views are cached per setting), so every rerun computes its view.
    """
    wall, cpu = [], []
    for _ in range(rounds):
        for v in values:
            t0, c0 = time.perf_counter(), time.process_time()
            widget().set_value(v).run()
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            if at.exception:
                raise RuntimeError(f"the page failed: {at.exception}")
    return wall, cpu


def bench_views() -> None:
    from streamlit.testing.v1 import AppTest

    print("3. Server-side script run after a widget change (AppTest: the page script, no browser drawing)")
    print("   CPU = this process's CPU time for the rerun (one torch thread): the run's cost on an idle core")
    app = str(ROOT / "app.py")

    def page(name: str) -> AppTest:
        at = AppTest.from_file(app, default_timeout=600)
        at.switch_page(f"explorer/ui/pages/{name}.py")
        at.run()
        if at.exception:
            raise RuntimeError(f"{name} failed: {at.exception}")
        return at

    def step(at: AppTest) -> None:
        at.run()
        if at.exception:
            raise RuntimeError(f"the page failed: {at.exception}")

    def report(what: str, times: tuple[list[float], list[float]], goal: float) -> None:
        wall, cpu = (statistics.median(t) for t in times)
        print(
            f"   {what}: CPU {cpu:.3f} s, wall {wall:.3f} s (medians of {len(times[0])} reruns; {verdict(cpu, goal, ' s')})"
        )

    at = page("build")
    report(
        "Build, change depth (CIFAR nets 8-110)",
        _rerun_times(at, lambda: at.select_slider(key="net_depth"), [8, 14, 32, 44, 56, 110]),
        0.25,
    )

    at = page("explain")
    at.toggle(key="net_side_by_side").set_value(False)  # one network: one Grad-CAM per run
    step(at)
    layers = ["layer3.1", "layer3.0", "layer2.2", "layer2.1", "layer2.0", "layer1.2"]
    times = _rerun_times(at, lambda: at.select_slider(key="explain_layer"), layers)
    report("Explain, move the Grad-CAM layer (ResNet-20, 32x32, trained)", times, 0.25)

    at.selectbox(key="net_source").set_value("The network in the sidebar, untrained")
    step(at)
    at.radio(key="image_choice").set_value("Photo sample")  # before the family: a shapes mask is 64x64
    step(at)
    at.radio(key="net_family").set_value("imagenet")
    step(at)
    layers = ["layer4.1", "layer4.0", "layer3.5", "layer3.4", "layer3.3", "layer3.2"]
    times = _rerun_times(at, lambda: at.select_slider(key="explain_layer"), layers)
    report("Explain, move the Grad-CAM layer (ResNet-50, 224x224)", times, 1.0)


BARE_APP = 'import streamlit as st\n\nst.title("hello")\n'


def _first_page(script: str | None, browser) -> tuple[float, float]:
    """(seconds to healthy, seconds to the first page drawn and idle) from `streamlit run`."""
    from explorer.deploy.ports import free_port
    from tests.support.browser import start_server, wait_healthy, wait_idle

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    if script is None:
        proc = start_server(port)
    else:
        cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port)]
        cmd += ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        healthy = wait_healthy(url, proc) if script is None else _wait_http(url, proc)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(url)
        wait_idle(page)
        first = time.perf_counter() - t0
        page.close()
        return healthy, first
    finally:
        proc.terminate()
        proc.wait(20)


def _wait_http(url: str, proc) -> float:
    import urllib.request

    t0 = time.perf_counter()
    while True:
        if proc.poll() is not None:
            raise RuntimeError("streamlit exited")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return time.perf_counter() - t0
        except OSError:
            time.sleep(0.1)


def bench_start() -> None:
    from playwright.sync_api import sync_playwright

    from tests.support.browser import ARGS, CHROMIUM

    print("4. Start-up: `streamlit run` to the first page (Learn) drawn and idle in Chromium")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        bare = Path(tmp) / "bare_app.py"
        bare.write_text(BARE_APP)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            _first_page(str(bare), browser)  # warm the file cache for both
            floor_h, floor = _first_page(str(bare), browser)
            healthy, first = _first_page(None, browser)
        finally:
            browser.close()
    print(
        f"   explorer: healthy {healthy:.2f} s, first page {first:.2f} s ({verdict(first, 5, ' s')}); "
        f"a one-line Streamlit app: healthy {floor_h:.2f} s, first page {floor:.2f} s; "
        f"ratio {first / floor:.2f}x"
    )


def bench_device() -> None:
    from explorer.devices import available_devices, synchronize

    gpu = [d for d in available_devices() if d != "cpu"]
    print("5. Device")
    if not gpu:
        print(f"   no GPU here ({available_devices()}): skipped")
        return
    device = torch.device(gpu[0])
    model = build_resnet(family="imagenet", depth=50).eval()
    x = torch.randn(3, 224, 224, generator=torch.Generator().manual_seed(0))
    on_gpu = build_resnet(family="imagenet", depth=50).eval().to(device)

    def strip_gpu():
        filmstrip(on_gpu, x)
        synchronize(device)

    t = best_of({"cpu": lambda: filmstrip(model, x), "gpu": strip_gpu}, 3, clock=time.perf_counter)
    print(
        f"   ResNet-50 film-strip: CPU {t['cpu']:.3f} s, {device} {t['gpu']:.3f} s ({t['cpu'] / t['gpu']:.1f}x faster)"
    )


SECTIONS = {"strip": bench_strip, "capture": bench_capture, "views": bench_views, "start": bench_start}
SECTIONS["device"] = bench_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=tuple(SECTIONS), action="append", help="run only these sections")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one thread: its CPU clock is the whole cost, whatever else runs
    for name in args.only or SECTIONS:
        SECTIONS[name]()


if __name__ == "__main__":
    main()
