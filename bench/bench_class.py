"""A class on one server: N real Streamlit sessions (default 30) against `streamlit run app.py` on loopback.

Each session is a WebSocket client speaking Streamlit's own protocol (tests/support/session_client.py),
not a browser, so the 2 cores measure the server and not 30 browsers. Three parts, all bounded:

1. "Everyone open <page> now": for every page, all N sessions open it at the same moment.
2. The class script, every session at once: open Learn; Build with a residual toggle; Explain a sample
   and change the layer; press Start on the degradation preset (then Stop, so the bench ends).
3. --varied: for every page, also N fresh sessions opening it at once, each with its own choices in the
   URL (depth 20-110, residual, shortcut A/B, width, shapes sample, layer), so no cache answers for
   another; printed beside the same-view figures of part 1.
4. --soak V: V Explain views (layer and image changes) spread over the sessions; server RSS after
   warm-up must grow at most 5%, and no hook may remain on any cached model (the diagnostics page).

Prints, per action: sessions with an error (an exception element, a dropped connection or a time-out),
p50/p95 seconds from request to script finished, server CPU-seconds per view (less load-sensitive
than wall time on a shared machine), server RSS at the start and the end, and how many training jobs
the Start presses made.

    nice -n 10 python bench/bench_class.py                 # 30 sessions, every page, the class script
    nice -n 10 python bench/bench_class.py --sessions 8 --pages build explain --no-script
    nice -n 10 python bench/bench_class.py --sessions 10 --soak 1000 --pages --no-script
    nice -n 10 python bench/bench_class.py --varied --pages build inside explain gradients --no-script
    nice -n 10 python bench/bench_class.py --behind-nginx 2    # every page: one server against make class's set-up
    nice -n 10 python bench/bench_class.py --behind-nginx 2 --varied --pages build inside explain gradients

--behind-nginx N: every page opened by all sessions at once, on one server and on nginx in front of N server
processes (a Dask scheduler and one worker, as ``make class`` starts them), both up side by side and taking
turns page by page, so that a busy moment on a shared machine falls on both alike; p95 per page and the
ratio, in one run. Server CPU then adds up the N processes and nginx. With --varied, each page is also opened
by N fresh sessions with their own choices on both set-ups (the same choices on both), in a second table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from explorer.deploy.launcher import Classroom
from explorer.deploy.ports import free_port
from tests.support.server import start_server, stop_server
from tests.support.session_client import StreamlitSession

ROOT = Path(__file__).resolve().parents[1]

HEADER = f"{'action':<24} {'errors':>6} {'p50 s':>7} {'p95 s':>7} {'CPU-s/view':>10} {'views':>6}"
PAGES = ["learn", "build", "train", "inside", "gradients", "explain", "experiments", "landscape"]
URL = {"learn": ""}  # page -> its URL path: the default page (Learn) is the root URL
AHEAD = re.compile(r"(\d+) training jobs? ahead of yours")
STARTED = re.compile(r"(\d+) training jobs? started on the engine")


@dataclass
class Action:
    """Timings and errors of one action across sessions."""

    name: str
    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    views: int = 0

    def p95(self) -> float:
        s = sorted(self.seconds) or [float("nan")]
        return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]

    def row(self) -> str:
        s = sorted(self.seconds) or [float("nan")]
        p95 = self.p95()
        per_view = self.cpu_s / max(self.views, 1)
        return (
            f"{self.name:<24} {len(self.errors):>6} {statistics.median(s):>7.2f} {p95:>7.2f} {per_view:>10.3f}"
            f" {self.views:>6}"
        )


def cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def rss_mb(proc: psutil.Process) -> float:
    return proc.memory_info().rss / 2**20


async def timed(action: Action, coro) -> object:
    """Run one request; a failure of any kind counts as this session's error."""
    try:
        r = await coro
    except Exception as e:  # noqa: BLE001 - a dropped socket or a time-out is what we measure
        action.errors.append(f"{type(e).__name__}: {e}")
        return None
    action.seconds.append(r.seconds)
    action.views += 1
    if r.exceptions:
        action.errors.append(r.exceptions[0])
    return r


async def at_once(sessions, proc, name: str, make) -> Action:
    """All sessions do ``make(session)`` at the same moment; server CPU over the burst."""
    action = Action(name)
    c0 = cpu_s(proc)
    await asyncio.gather(*(timed(action, make(s)) for s in sessions))
    action.cpu_s = cpu_s(proc) - c0
    print(action.row(), flush=True)
    return action


VARIED_DEPTHS = (20, 32, 44, 56, 110)
VARIED_WIDTHS = (4, 8, 16, 32)


def varied_query(rng: random.Random) -> dict[str, str]:
    """One student's own view of the sidebar's untrained network: a link as the app writes it."""
    depth = rng.choice(VARIED_DEPTHS)
    layer = f"layer{rng.randint(1, 3)}.{rng.randrange((depth - 2) // 6)}"
    return {
        "network": "The network in the sidebar, untrained",
        "family": "cifar",
        "depth": str(depth),
        "residual": rng.choice(("true", "false")),
        "shortcut": rng.choice("AB"),
        "width": str(rng.choice(VARIED_WIDTHS)),
        "image": "Shapes sample",
        "sample": str(rng.randrange(60)),
        "layer": layer,
        "block": layer,
        "cam_layer": layer,
    }


async def varied(url: str, proc, page: str, n: int, rng: random.Random, timeout: float, name: str = "") -> Action:
    """N fresh sessions (a link is read on a session's first run) open ``page`` at once, each with its own URL."""
    queries = [varied_query(rng) for _ in range(n)]
    sessions = [StreamlitSession(url, timeout=timeout) for _ in range(n)]
    for s in sessions:
        await s.__aenter__()
    try:
        action = await at_once(sessions, proc, name or f"varied open {page}", lambda s: s.open(page, queries.pop()))
    finally:
        for s in sessions:
            await s.__aexit__(None, None, None)
    return action


async def class_script(sessions, proc, url: str) -> tuple[list[Action], tuple[int, int]]:
    """Learn; Build + residual toggle; Explain a sample + another layer; Start the degradation preset."""
    acts = [await at_once(sessions, proc, "script: open learn", lambda s: s.open(URL["learn"]))]
    acts.append(await at_once(sessions, proc, "script: open build", lambda s: s.open("build")))
    acts.append(await at_once(sessions, proc, "script: toggle residual", lambda s: s.set("net_residual", False)))
    acts.append(await at_once(sessions, proc, "script: open explain", lambda s: s.open("explain")))
    acts.append(await at_once(sessions, proc, "script: explain sample", lambda s: s.set("image_shape_index", 7)))

    async def other_layer(s):
        options = list(s.widgets["explain_layer"].proto.options)  # KeyError: that session's page failed
        return await s.set("explain_layer", options[len(options) // 2])

    acts.append(await at_once(sessions, proc, "script: explain layer", other_layer))
    acts.append(await at_once(sessions, proc, "script: open train", lambda s: s.open("train")))
    acts.append(await at_once(sessions, proc, "script: degradation", lambda s: s.set("train_preset", "Degradation")))
    presses = await at_once(sessions, proc, "script: press Start", lambda s: s.click("train_start"))
    acts.append(presses)
    ids = {s.query()["run"] for s in sessions if "run" in s.query()}  # the job each session's page links to
    jobs = (len(ids), await count_jobs(sessions, url))
    await asyncio.gather(*(stop_training(s) for s in sessions))
    return acts, jobs


async def count_jobs(sessions, url: str, settle_s: float = 60.0) -> int:
    """Distinct training jobs behind the Start presses.

    With the job engine: the jobs that really started, from the diagnostics page (polled for up to
    ``settle_s`` until one has started: the embedded cluster starts its worker with the first job, then
    10 s more for any duplicate to show). Without it: the longest queue any session's Train page reports
    ("k training jobs ahead of yours"), plus one.
    """
    started: list[int] = []
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline:
        async with StreamlitSession(url) as s:
            r = await s.open("diagnostics")
        started = [int(m.group(1)) for t in r.texts for m in STARTED.finditer(t)]
        if not started or started[0] > 0:
            break
        await asyncio.sleep(2)
    if started:
        await asyncio.sleep(10)
        async with StreamlitSession(url) as s:
            r = await s.open("diagnostics")
        return max([int(m.group(1)) for t in r.texts for m in STARTED.finditer(t)], default=started[0])
    ahead = []
    for s in sessions:
        r = await s.open("train")
        ahead += [int(m.group(1)) for t in r.texts for m in AHEAD.finditer(t)]
    return max(ahead, default=0) + 1


async def stop_training(s: StreamlitSession) -> None:
    """Press Stop where the page offers it, so the bench leaves no training behind."""
    for key in [k for k in s.widgets if k.endswith("_stop")]:
        try:
            await s.click(key)
        except Exception:  # noqa: BLE001 - a session that cannot stop is reported by the job count
            pass


async def soak(sessions, proc, views: int, rng: random.Random) -> tuple[Action, float, float]:
    """Explain views (layer and image changes) across sessions; RSS after warm-up and at the end, MiB."""
    action = Action("soak: explain views")
    await asyncio.gather(*(s.open("explain") for s in sessions))
    per = max(1, views // len(sessions))
    warm = max(1, per // 10)
    rss_warm = 0.0

    async def run(s: StreamlitSession, i: int) -> None:
        nonlocal rss_warm
        layers = list(s.widgets["explain_layer"].proto.options)
        for v in range(per):
            if v == warm and i == 0:
                rss_warm = rss_mb(proc)
            if v % 2:
                await timed(action, s.set("explain_layer", rng.choice(layers)))
            else:
                await timed(action, s.set("image_shape_index", rng.randrange(60)))

    c0 = cpu_s(proc)
    await asyncio.gather(*(run(s, i) for i, s in enumerate(sessions)))
    action.cpu_s = cpu_s(proc) - c0
    return action, rss_warm, rss_mb(proc)


async def hooks_left(url: str) -> str:
    """What the diagnostics page says about hooks and modes on the server's cached models."""
    async with StreamlitSession(url) as s:
        r = await s.open("diagnostics")
    return " ".join(t for t in r.texts if "cached" in t) or "diagnostics page not found"


class Processes:
    """Several server processes (and nginx with its workers) read as one: CPU times and RSS add up."""

    def __init__(self, pids: list[int]) -> None:
        self.procs = [psutil.Process(p) for p in pids]
        self.procs += [c for p in self.procs for c in p.children(recursive=True)]
        self.pid = "+".join(str(p) for p in pids)

    def cpu_times(self):
        times = [p.cpu_times() for p in self.procs]
        return argparse.Namespace(user=sum(t.user for t in times), system=sum(t.system for t in times))

    def memory_info(self):
        return argparse.Namespace(rss=sum(p.memory_info().rss for p in self.procs))


async def warm_up(url: str) -> None:
    """Open every page once, as a teacher's rehearsal would (fills the server's caches)."""
    async with StreamlitSession(url) as first:
        for page in PAGES:
            await first.open(URL.get(page, page))


async def compare(args) -> int:
    """--behind-nginx N: every page on one server and behind nginx + N processes, taking turns; p95 side by side."""
    env = {"EXPLORER_RUNS": tempfile.mkdtemp(prefix="bench-class-runs-"), "EXPLORER_DIAGNOSTICS": "1"}
    n = args.behind_nginx
    server, one_url = start_server(ROOT, env=env)
    room = Classroom(port=free_port(), host="127.0.0.1", servers=n, scheduler_port=free_port(), env=env)
    sessions: dict[str, list[StreamlitSession]] = {}
    try:
        room.start()
        pids = [p.proc.pid for p in room.parts if p.name.startswith(("server", "nginx"))]
        setups = {"1 server": (one_url, psutil.Process(server.pid)), f"nginx + {n}": (room.url, Processes(pids))}
        for url in [one_url] + [f"http://{b}" for b in room.backends]:  # every process behind nginx too
            await warm_up(url)
        print(f"one server {one_url}, nginx {room.url} + {n}; {args.sessions} sessions each; {os.cpu_count()} CPUs")
        for name, (url, _) in setups.items():
            sessions[name] = []
            for _ in range(args.sessions):
                sessions[name].append(await StreamlitSession(url, timeout=args.timeout).__aenter__())
        print(HEADER, flush=True)
        results: dict[str, list[Action]] = {name: [] for name in setups}
        varied_results: dict[str, list[Action]] = {name: [] for name in setups}  # --varied: own choices each
        for i, page in enumerate(args.pages):
            for name in list(setups)[:: 1 if i % 2 == 0 else -1]:  # the order swaps on every page
                path, (_, proc) = URL.get(page, page), setups[name]
                act = await at_once(sessions[name], proc, f"{page} ({name})", lambda s, p=path: s.open(p))
                results[name].append(act)
            for name in list(setups)[:: 1 if i % 2 == 0 else -1] if args.varied else ():
                (url, proc), rng = setups[name], random.Random(1000 + i)  # the same students' choices on both
                act = await varied(
                    url, proc, URL.get(page, page), args.sessions, rng, args.timeout, f"varied {page} ({name})"
                )
                varied_results[name].append(act)
        pages = list(args.pages)
        for title, results_ in (("same view", results), ("own choices each", varied_results)):
            if not any(results_.values()):
                continue
            one, many = results_.values()
            print(f"\n{'p95 s, ' + title:<24} {'1 server':>9} {f'nginx + {n}':>10} {'ratio':>6}  errors")
            for page, a, b in zip(pages, one, many, strict=True):
                print(
                    f"{page:<24} {a.p95():>9.2f} {b.p95():>10.2f} {a.p95() / b.p95():>6.2f}  "
                    f"{len(a.errors)} / {len(b.errors)}"
                )
        one = [a for r in (results, varied_results) for a in list(r.values())[0]]
        many = [a for r in (results, varied_results) for a in list(r.values())[1]]
        for a in one + many:
            for e in sorted(set(a.errors))[:3]:
                print(f"  {a.name}: {e[:200]}")
        return 1 if any(a.errors for a in one + many) else 0
    finally:
        for s in [s for ss in sessions.values() for s in ss]:
            await s.__aexit__(None, None, None)
        room.stop()
        stop_server(server)


async def main(args) -> int:
    if args.behind_nginx:
        return await compare(args)
    rng = random.Random(0)
    server = log = None
    if args.url:
        url, proc = args.url, psutil.Process(args.pid)
    else:
        runs = tempfile.mkdtemp(prefix="bench-class-runs-")
        log = Path(runs) / "server.log"
        server, url = start_server(ROOT, env={"EXPLORER_RUNS": runs, "EXPLORER_DIAGNOSTICS": "1"}, log=log)
        proc = psutil.Process(server.pid)
    print(f"server {url} pid {proc.pid}; {args.sessions} sessions; {os.cpu_count()} CPUs")
    rss0 = rss_mb(proc)
    t0 = time.perf_counter()
    try:
        await warm_up(url)
        rss_warm = rss_mb(proc)
        sessions = [StreamlitSession(url, timeout=args.timeout) for _ in range(args.sessions)]
        for s in sessions:
            await s.__aenter__()
        actions = []
        print(HEADER, flush=True)
        for page in args.pages:
            path = URL.get(page, page)
            actions.append(await at_once(sessions, proc, f"all open {page}", lambda s, p=path: s.open(p)))
            if args.varied:
                actions.append(await varied(url, proc, path, args.sessions, rng, args.timeout))
        jobs = None
        if args.script:
            acts, jobs = await class_script(sessions, proc, url)
            actions += acts
        soak_rss = None
        if args.soak:
            act, warm, end = await soak(sessions, proc, args.soak, rng)
            actions.append(act)
            soak_rss = (warm, end)
        for s in sessions:
            await s.__aexit__(None, None, None)
        print("\n" + HEADER)
        for a in actions:
            print(a.row())
        for a in actions:
            for e in sorted(set(a.errors))[:3]:
                print(f"  {a.name}: {e[:200]}")
        bursts = [a for a in actions if a.name.startswith("all open")]
        if bursts:
            worst = max(bursts, key=lambda a: a.cpu_s)
            print(
                f"\nbusiest burst: {worst.name}, {worst.cpu_s:.2f} server CPU-s for {worst.views} views at once "
                "(the time it needs on one free core, whatever else the machine runs)"
            )
        print(f"server RSS: start {rss0:.0f} MiB, after warm-up {rss_warm:.0f} MiB, end {rss_mb(proc):.0f} MiB")
        if jobs is not None:
            print(
                f"{args.sessions} identical Start presses: {jobs[0]} distinct jobs linked from the sessions' pages, "
                f"{jobs[1]} training jobs started"
            )
        ok = True
        if soak_rss:
            growth = soak_rss[1] / soak_rss[0] - 1
            ok = growth <= 0.05
            print(f"soak: RSS {soak_rss[0]:.0f} -> {soak_rss[1]:.0f} MiB after warm-up ({growth:+.1%}, limit +5%)")
            print(f"soak: {await hooks_left(url)}")
        if server is not None:
            errors = [line for line in log.read_text().splitlines() if "Error" in line or "Exception" in line]
            print(f"server log: {len(errors)} error lines" + "".join(f"\n  {e[:200]}" for e in sorted(set(errors))[:5]))
        print(f"wall {time.perf_counter() - t0:.0f} s")
        return 0 if ok and not any(a.errors for a in actions) else 1
    finally:
        if server is not None:
            stop_server(server)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=30)
    p.add_argument("--pages", nargs="*", default=PAGES, help="pages everyone opens at once (none: skip)")
    p.add_argument("--script", action=argparse.BooleanOptionalAction, default=True, help="the class script")
    p.add_argument("--varied", action="store_true", help="also open every page with each session's own choices")
    p.add_argument("--soak", type=int, default=0, metavar="VIEWS", help="Explain views across sessions")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds before one request counts as failed")
    p.add_argument("--url", help="an already running server (then --pid names its process)")
    p.add_argument("--pid", type=int)
    p.add_argument("--behind-nginx", type=int, default=0, metavar="N", help="pages: 1 server against nginx + N")
    sys.exit(asyncio.run(main(p.parse_args())))
