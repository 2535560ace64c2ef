"""Server CPU-seconds per distinct view, page by page and depth by depth, in this process (Streamlit's AppTest).

Each view is a fresh session opening a page with its own choices in the URL, as ``bench_class --varied`` draws
them (residual, shortcut, width, sample, layer), here for each depth in turn so that ResNet-110's cost shows on its
own line. Every page is opened once with the defaults first (imports, assets, first figures), so what is counted
is what one more student's own view costs. One thread, one view at a time: CPU time is the process's
(``time.process_time``), which a busy machine does not inflate much. The issue's goal is at most 0.1 s per distinct
view on Inside and Build, ResNet-110 included.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_views.py [--pages build inside] [--views 4] [--profile inside]

--profile PAGE prints cProfile's top functions over that page's views (cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from the repository
os.environ.setdefault("EXPLORER_RUNS", tempfile.mkdtemp(prefix="bench-views-runs-"))

from bench.bench_class import VARIED_DEPTHS, varied_query  # noqa: E402

PAGES = ("build", "inside", "explain", "gradients")


def open_view(page: str, query: dict[str, str]) -> float:
    """CPU-seconds of one fresh session opening ``page`` with ``query`` (raises on an exception element)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.query_params.update(query)
    at.switch_page(f"explorer/ui/pages/{page}.py")
    c0 = time.process_time()
    at.run()
    cpu = time.process_time() - c0
    if at.exception:
        raise RuntimeError(f"{page} {query}: {at.exception[0].message}")
    return cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pages", nargs="+", default=list(PAGES), choices=PAGES)
    p.add_argument("--views", type=int, default=4, help="distinct views per page and depth")
    p.add_argument("--profile", choices=PAGES, help="cProfile this page's views")
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)  # one view at a time on one core: its CPU time is its cost
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)  # bare mode
    rng = random.Random(0)
    print(f"{'page':<10} " + " ".join(f"{f'd={d}':>8}" for d in VARIED_DEPTHS) + f" {'mean':>8}   CPU-s per view")
    for page in args.pages:
        open_view(page, {})  # the defaults: imports, assets and first figures are not one more student's cost
        prof = cProfile.Profile() if page == args.profile else None
        per_depth, every = [], []
        for depth in VARIED_DEPTHS:
            cpus = []
            for _ in range(args.views):
                query = varied_query(rng)
                layer = f"layer{rng.randint(1, 3)}.{rng.randrange((depth - 2) // 6)}"
                query.update(depth=str(depth), layer=layer, block=layer, cam_layer=layer)
                if prof:
                    prof.enable()
                cpus.append(open_view(page, query))
                if prof:
                    prof.disable()
            per_depth.append(statistics.mean(cpus))
            every += cpus
        print(f"{page:<10} " + " ".join(f"{c:>8.3f}" for c in per_depth) + f" {statistics.mean(every):>8.3f}")
        if prof:
            pstats.Stats(prof).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
