"""What one poll of a live chart costs the server: the class chart against the Train page's live curves.

Every page watching something live reruns a fragment every 2 s (``st.fragment(run_every=...)``); with a class of
thirty on one server, that cost is paid thirty times every two seconds. This bench measures both on one
``streamlit run app.py`` in one run, as server CPU-seconds (the engine's workers, separate processes, not counted):

- the class chart of a full class experiment (``--pairs`` real pairs, 60 dots for 30), N sessions polling it;
- the Train page's live loss and accuracy curves while the degradation preset trains, the same N sessions
  watching the one job (they all pressed Start, so they joined it).

The two are polled in alternating rounds (the first of each not counted) after the server's background imports are
done, and each poll's answer is checked (one chart drawn, no error), so a poll that drew nothing cannot pass for a
cheap one.

    .venv/bin/python -m bench.bench_poll                               # trains a class of 30 small pairs first
    .venv/bin/python -m bench.bench_poll --runs DIR --code CODE        # an experiment already there
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import psutil

from explorer.experiments import class_experiment as ce
from explorer.ui.caches.preload import DELAY_S
from tests.support.server import start_server, stop_server
from tests.support.session_client import StreamlitSession

ROOT = Path(__file__).resolve().parents[1]


def make_class(root: Path, pairs: int, steps: int, size: int) -> str:
    """A class experiment with ``pairs`` pairs trained for real on this process's embedded engine."""
    from explorer.engine import client
    from explorer.engine import jobs as engine
    from explorer.tasks import class_experiment as tasks

    exp = ce.new_experiment(root, steps=steps, recipe=replace(ce.RECIPE, image_size=size))
    t0 = time.perf_counter()
    jobs = [tasks.contribution_job(exp, a.depth, a.seed) for a in (ce.assign(root, exp.code) for _ in range(pairs))]
    for job in jobs:
        engine.submit(job)
    for i, job in enumerate(jobs, 1):
        engine.wait(job.key, timeout=1800)
        tasks.record_from(root, exp.code, engine.result(job.key))
        print(f"\rtraining the class: {i}/{pairs} pairs, {time.perf_counter() - t0:.0f} s", end="", flush=True)
    print()
    client.close()
    return exp.code


async def until_idle(proc: psutil.Process, cpu_s: float = 0.03) -> None:
    """Until the server used under ``cpu_s`` CPU-seconds in one second (its preload thread's imports are done)."""
    while True:
        c0 = sum(proc.cpu_times()[:2])
        await asyncio.sleep(1.0)
        if sum(proc.cpu_times()[:2]) - c0 < cpu_s:
            return


async def poll_round(sessions: list[StreamlitSession], polls: int, proc: psutil.Process, bad: list[str]) -> float:
    """Every session polls its page's live fragment ``polls`` times, in turn: server CPU-seconds per poll."""
    cpu0 = sum(proc.cpu_times()[:2])
    for _ in range(polls):
        for s in sessions:
            r = await s.poll_fragment()
            if r.exceptions or r.errors or r.charts != 1:
                bad.append(f"{s.page_name}: {(r.exceptions + r.errors)[:1] or f'{r.charts} charts drawn'}")
    return (sum(proc.cpu_times()[:2]) - cpu0) / (polls * len(sessions))


async def measure(url: str, proc: psutil.Process, code: str) -> dict:
    n = ARGS.sessions
    watchers = [await StreamlitSession(url, timeout=600).__aenter__() for _ in range(2 * n)]
    classes, trainers = watchers[:n], watchers[n:]
    for s in classes:
        await s.open("class_experiment", {"code": code})
    for s in trainers:
        await s.open("train", {"preset": "degradation"})
    await asyncio.sleep(DELAY_S + 2)
    await until_idle(proc)
    for s in trainers:  # the first starts the preset's run, the others join its job
        await s.click("train_start")
    bad: list[str] = []
    deadline = time.time() + 300
    while any(not s.auto_fragments for s in trainers) or (await trainers[0].poll_fragment()).charts != 1:
        if time.time() > deadline:
            raise SystemExit("the degradation run drew no live curves within 5 minutes")
        for s in trainers:
            if not s.auto_fragments:
                await s._rerun()
        await asyncio.sleep(1.0)
    await poll_round(classes, ARGS.polls, proc, bad)  # a first round of each, not counted: warm caches and sockets
    await poll_round(trainers, ARGS.polls, proc, bad)
    rounds: dict[str, list[float]] = {"class": [], "train": []}
    for _ in range(ARGS.rounds):
        rounds["class"].append(await poll_round(classes, ARGS.polls, proc, bad))
        rounds["train"].append(await poll_round(trainers, ARGS.polls, proc, bad))
    for s in watchers:
        await s.__aexit__(None, None, None)
    return {**rounds, "bad": bad}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
        root = Path(tmp) / "runs"  # the preset's run starts afresh here, never resumed from a run of before
        if ARGS.code:
            code = ce.normal_code(ARGS.code)
            shutil.copytree(ce.experiment_dir(ARGS.runs, code), ce.experiment_dir(root, code))
        else:
            code = make_class(root, ARGS.pairs, ARGS.steps, ARGS.size)
        exp = ce.load(root, code)
        proc, url = start_server(ROOT, env={"EXPLORER_RUNS": str(root)}, log=Path(tmp) / "server.log")
        try:
            out = asyncio.run(measure(url, psutil.Process(proc.pid), code))
        finally:
            stop_server(proc)
    cls, train = statistics.median(out["class"]), statistics.median(out["train"])
    print(f"class chart: experiment {code}, {len(exp.results)} pairs ({2 * len(exp.results)} dots)")
    print(f"{ARGS.sessions} sessions on each page, {ARGS.rounds} alternating rounds of {ARGS.polls} polls a session")
    print("server CPU per poll, ms (each round):")
    print(f"  class chart           {1000 * cls:6.2f}  ({', '.join(f'{1000 * x:.2f}' for x in out['class'])})")
    print(f"  Train page live curves {1000 * train:5.2f}  ({', '.join(f'{1000 * x:.2f}' for x in out['train'])})")
    print(f"ratio class / train: {cls / train:.2f} (the goal: at most 1)")
    print(
        f"polls that drew no chart or an error: {len(out['bad'])}"
        + (f" (first: {out['bad'][0]})" if out["bad"] else "")
    )
    return 0 if not out["bad"] else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", help="the runs folder of an experiment already there (with --code)")
    p.add_argument("--code", help="that experiment's code (default: train a new class first)")
    p.add_argument("--pairs", type=int, default=30, help="pairs of the class trained first")
    p.add_argument("--steps", type=int, default=20, help="steps a pair of that class")
    p.add_argument("--size", type=int, default=16, help="image size of that class's shapes")
    p.add_argument("--sessions", type=int, default=10, help="sessions polling each page")
    p.add_argument("--polls", type=int, default=20, help="polls a session in a round")
    p.add_argument("--rounds", type=int, default=5, help="rounds counted (after one not counted)")
    ARGS = p.parse_args()
    if bool(ARGS.runs) != bool(ARGS.code):
        p.error("--runs and --code go together")
    sys.exit(main())
