"""A class experiment under load: N simulated students (default 30) on one `streamlit run app.py` and its embedded
engine: one worker, or ``EXPLORER_WORKERS`` one-job workers sharing the machine's cores out.

Each student is a WebSocket session speaking Streamlit's protocol (tests/support/session_client.py): it opens the
teacher's link (``/class_experiment?code=...``), gets an assignment, and all press "Train my pair" at the same
moment. While the pairs train on the server's embedded workers (one job at a time each), every session reruns the
class chart's fragment every --poll seconds, as the browser does (``--whole-page``: the whole page instead). Prints the time from the presses to the first pair recorded (the first dots), to all of them,
the page time p50/p95 meanwhile, the server's CPU-seconds per page run, and the errors.

    .venv/bin/python -m bench.bench_class_experiment                        # 30 students, the default recipe
    EXPLORER_WORKERS=2 .venv/bin/python -m bench.bench_class_experiment     # two one-thread workers on 2 cores
    .venv/bin/python -m bench.bench_class_experiment --students 6 --steps 20 --depths 20 32
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

from explorer.engine.client import WORKERS_ENV
from explorer.experiments import class_experiment as ce
from tests.support.server import start_server, stop_server
from tests.support.session_client import StreamlitSession

ROOT = Path(__file__).resolve().parents[1]
PAGE = "class_experiment"


def percentile(values: list[float], q: float) -> float:
    xs = sorted(values) or [float("nan")]
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


async def student(url: str, code: str, gate: asyncio.Barrier, times: list[float], errors: list[str], done) -> None:
    """Open the link, press at the same moment as everyone, then rerun the page every poll until all are in."""
    async with StreamlitSession(url, timeout=600) as s:
        r = await s.open(PAGE, {"code": code})
        errors += r.exceptions + r.errors
        await gate.wait()
        r = await s.click("class_train")
        times.append(r.seconds)
        errors += r.exceptions + r.errors
        while not done.is_set():
            await asyncio.sleep(ARGS.poll)
            r = await (s._rerun() if ARGS.whole_page else s.poll_fragment())
            times.append(r.seconds)
            errors += r.exceptions + r.errors


async def watch(root: Path, code: str, n: int, t0: list[float], marks: dict, done: asyncio.Event) -> None:
    """The moments the first pair and the n-th pair were recorded (read from the experiment's folder)."""
    deadline = time.time() + ARGS.timeout
    while time.time() < deadline:
        pairs = len(ce.load(root, code).results)
        if pairs and "first" not in marks and t0:
            marks["first"] = time.time() - t0[0]
        if pairs >= n:
            marks["all"] = time.time() - t0[0]
            break
        await asyncio.sleep(0.5)
    done.set()


async def class_of(url: str, root: Path, code: str, n: int, proc: psutil.Process) -> dict:
    gate = asyncio.Barrier(n + 1)
    times: list[float] = []
    errors: list[str] = []
    marks: dict = {}
    done = asyncio.Event()
    t0: list[float] = []
    tasks = [asyncio.create_task(student(url, code, gate, times, errors, done)) for _ in range(n)]
    await gate.wait()
    t0.append(time.time())
    cpu0 = sum(proc.cpu_times()[:2])
    await watch(root, code, n, t0, marks, done)
    await asyncio.gather(*tasks, return_exceptions=False)
    marks.update(times=times, errors=errors, cpu_s=sum(proc.cpu_times()[:2]) - cpu0)
    return marks


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-class-experiment-") as tmp:
        root = Path(tmp) / "runs"
        exp = ce.new_experiment(root, depths=ARGS.depths, steps=ARGS.steps)
        log = Path(tmp) / "server.log"
        proc, url = start_server(ROOT, env={"EXPLORER_RUNS": str(root)}, log=log)
        try:
            out = asyncio.run(class_of(url, root, exp.code, ARGS.students, psutil.Process(proc.pid)))
        finally:
            stop_server(proc)
    times, n = out["times"], ARGS.students
    workers = int(os.environ.get(WORKERS_ENV, "1"))
    print(f"{n} students, depths {' '.join(map(str, exp.depths))}, {exp.steps} steps a pair, {workers} worker(s)")
    print(f"first pair recorded (the first dots): {out.get('first', float('nan')):.1f} s after the presses")
    print(f"all {n} pairs recorded: {out.get('all', float('nan')):.1f} s")
    polls = "whole pages" if ARGS.whole_page else "chart fragments"
    p50, p95 = percentile(times, 0.5), percentile(times, 0.95)
    print(f"page runs meanwhile (the press, then {polls}): {len(times)}, p50 {p50:.2f} s, p95 {p95:.2f} s")
    print(f"server CPU-seconds per page run: {out['cpu_s'] / max(1, len(times)):.3f} (the worker's not counted)")
    print(f"errors: {len(out['errors'])}" + (f" (first: {out['errors'][0]})" if out["errors"] else ""))
    if len(times) > 1:
        print(f"mean page run {statistics.mean(times):.2f} s")
    return 0 if "all" in out and not out["errors"] else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--students", type=int, default=30)
    p.add_argument("--depths", type=int, nargs="+", default=list(ce.DEFAULT_DEPTHS))
    p.add_argument("--steps", type=int, default=ce.DEFAULT_STEPS)
    p.add_argument("--poll", type=float, default=2.0, help="seconds between a session's chart polls")
    p.add_argument(
        "--whole-page", action="store_true", help="poll by rerunning the whole page, not the chart's fragment"
    )
    p.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds")
    ARGS = p.parse_args()
    sys.exit(main())
