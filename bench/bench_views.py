"""Server CPU-seconds per distinct view, page by page and depth by depth: one student at a time on a real server.

``bench_class --varied`` opens 30 views at once, so its CPU per view includes what 30 threads cost each other
(the interpreter's lock, torch's thread pools, caches). Here a real ``streamlit run app.py`` on loopback gets one
fresh session at a time, each opening a page with its own choices in the URL as ``bench_class --varied`` draws
them (residual, shortcut, width, sample, layer), for each depth in turn so that ResNet-110's cost has its own
column. Every page is first opened with its defaults (imports, assets, first figures) and then once more with
the defaults by a fresh session: that second view, all cached, is the floor (Streamlit's own work for the page).
The issue's goal: at most 0.1 server CPU-seconds per distinct view on Inside and Build, ResNet-110 included.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_views.py [--pages build inside] [--views 4] [--width 16]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
from pathlib import Path

import psutil

from bench.bench_class import VARIED_DEPTHS, cpu_s, varied_query
from tests.support.server import start_server, stop_server
from tests.support.session_client import StreamlitSession

ROOT = Path(__file__).resolve().parents[1]

PAGES = ("build", "inside", "explain", "gradients")


async def open_view(url: str, proc: psutil.Process, page: str, query: dict[str, str]) -> float:
    """Server CPU-seconds of one fresh session opening ``page`` with ``query`` (raises on an exception)."""
    async with StreamlitSession(url, timeout=300) as s:
        c0 = cpu_s(proc)
        r = await s.open(page, query)
        cpu = cpu_s(proc) - c0
    if r.exceptions:
        raise RuntimeError(f"{page} {query}: {r.exceptions[0][:300]}")
    return cpu


async def main(args) -> None:
    runs = tempfile.mkdtemp(prefix="bench-views-runs-")
    server, url = start_server(ROOT, env={"EXPLORER_RUNS": runs})
    proc = psutil.Process(server.pid)
    rng = random.Random(0)
    try:
        head = " ".join(f"{f'd={d}':>7}" for d in VARIED_DEPTHS)
        width = f"width {args.width}" if args.width else "widths 4-32"
        print(f"server CPU-s per view, one session at a time ({args.views} views per depth, {width})")
        print(f"{'page':<10} {'floor':>7} {head} {'mean':>7} {'max':>7}")
        for page in args.pages:
            await open_view(url, proc, page, {})  # imports, assets, first figures: not one more student's cost
            floor = await open_view(url, proc, page, {})  # the same view again, all cached
            per_depth, every = [], []
            for depth in VARIED_DEPTHS:
                cpus = []
                for _ in range(args.views):
                    query = varied_query(rng)
                    layer = f"layer{rng.randint(1, 3)}.{rng.randrange((depth - 2) // 6)}"
                    query.update(depth=str(depth), layer=layer, block=layer, cam_layer=layer)
                    if args.width:
                        query["width"] = str(args.width)
                    cpus.append(await open_view(url, proc, page, query))
                per_depth.append(statistics.mean(cpus))
                every += cpus
            cells = " ".join(f"{c:>7.3f}" for c in per_depth)
            print(f"{page:<10} {floor:>7.3f} {cells} {statistics.mean(every):>7.3f} {max(every):>7.3f}", flush=True)
    finally:
        stop_server(server)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pages", nargs="+", default=list(PAGES), choices=PAGES)
    p.add_argument("--views", type=int, default=4, help="distinct views per page and depth")
    p.add_argument("--width", type=int, help="every view at this width (default: drawn from 4, 8, 16, 32)")
    asyncio.run(main(p.parse_args()))
