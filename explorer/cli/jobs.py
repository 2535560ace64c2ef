"""The job commands of ``python -m explorer``: ``jobs [--json]``, ``stop ID``, ``watch ID``, and what ``train``
shares with them: the scheduler a command uses, following a job to its end, the progress bar and the exit codes.

They talk to the engine's cluster (``--scheduler`` or ``$EXPLORER_SCHEDULER``): exit 0 done, 1 failed, 2 stopped;
3 no such job, 4 no engine (one plain line, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys

# exit codes of the job commands (``watch`` and an attached ``train``): how the job ended, or why there is none
EXIT_DONE, EXIT_FAILED, EXIT_STOPPED, EXIT_UNKNOWN_JOB, EXIT_NO_ENGINE = 0, 1, 2, 3, 4
ENDED = {"done": EXIT_DONE, "failed": EXIT_FAILED, "stopped": EXIT_STOPPED}


def progress_bar(p) -> None:
    """One line, redrawn in place: bar, step, images/s, ETA and each network's loss (a Progress or a job snapshot)."""
    if isinstance(p, dict):
        if not p.get("total") or not p.get("step") or "images_per_s" not in p:
            return
        step, total, ips, eta, metrics = (
            p["step"],
            p["total"],
            p["images_per_s"],
            p.get("eta_s", 0.0),
            p.get("metrics") or {},
        )
    else:
        step, total, ips, eta, metrics = p.step, p.total, p.rate, p.eta_s, p.metrics
    width = 24
    done = int(width * step / max(1, total))
    losses = "  ".join(f"{k} {v['loss']:.3f}" for k, v in metrics.items())
    clock = f"{int(eta) // 60}:{int(eta) % 60:02d}"
    line = f"\r[{'#' * done}{'.' * (width - done)}] {step}/{total}  {ips:.0f} img/s  ETA {clock}  {losses}"
    sys.stdout.write(line)
    if step == total:
        sys.stdout.write("\n")
    sys.stdout.flush()


def scheduler_of(args: argparse.Namespace) -> str | None:
    """The scheduler a command uses: ``--scheduler``, else ``$EXPLORER_SCHEDULER`` (the engine reads the latter)."""
    import os

    from explorer.engine import client as engine_client

    address = getattr(args, "scheduler", None) or os.environ.get(engine_client.SCHEDULER_ENV) or None
    if address:
        os.environ[engine_client.SCHEDULER_ENV] = address
        if "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT" not in os.environ:  # a plain answer soon, not after 30 s
            import dask

            dask.config.set({"distributed.comm.timeouts.connect": "10s"})
    return address


def follow(key: str) -> int:
    """Print job ``key``'s progress until it ends (queue place, a lost worker, where it resumed); its exit code."""
    from explorer.engine import jobs as engine

    said: set = set()
    shown = [-1]

    def say(text: str, err: bool = False) -> None:
        if text not in said:
            said.add(text)
            if shown[0] > 0:
                sys.stdout.write("\n")
                shown[0] = 0
            print(text, file=sys.stderr if err else sys.stdout, flush=True)

    def show(s) -> None:
        if s.state == engine.QUEUED:
            say(f"waiting for a worker: {s.position} job(s) ahead")
        for r in s.restarts:
            say(f"the worker running this job ({r['worker']}) was lost at step {r['step']}")
        if s.state == engine.LOST:
            say(s.message, err=True)
        resumed = s.snapshot.get("resumed_from")
        if resumed and (s.restarts or s.snapshot.get("attempt", 1) > 1):
            say(f"resumed from the checkpoint at step {resumed} on {s.snapshot.get('worker')}")
        elif resumed:
            say(f"resumed from the checkpoint at step {resumed}")
        if s.state == engine.RUNNING and s.step != shown[0]:
            shown[0] = s.step
            progress_bar(s.snapshot)

    st = engine.wait(key, on_status=show)
    if st.state == engine.DONE and st.step != shown[0]:
        progress_bar(st.snapshot)  # the last step, even when the job ended between two looks
    elif shown[0] > 0 and st.step != st.total:
        sys.stdout.write("\n")
    if st.state is None:
        print(f"error: the engine knows no job {engine.job_id(key)}", file=sys.stderr)
        return EXIT_UNKNOWN_JOB
    if st.state == engine.FAILED:
        print(f"error: {st.message}", file=sys.stderr)
    elif st.state == engine.STOPPED:
        print(f"stopped at step {st.step} of {st.total}; run the same command again to go on from its last checkpoint")
    else:
        print(f"done: {st.step} of {st.total} steps")
    return ENDED.get(st.state, EXIT_FAILED)


def _need_scheduler(args: argparse.Namespace) -> bool:
    """The job commands need a cluster's scheduler: an embedded cluster of their own would know no jobs."""
    if scheduler_of(args):
        return True
    print("error: no scheduler: give --scheduler tcp://HOST:8786 or set $EXPLORER_SCHEDULER", file=sys.stderr)
    return False


def cmd_jobs(args: argparse.Namespace) -> int:
    from explorer.engine import jobs as engine

    if not _need_scheduler(args):
        return EXIT_NO_ENGINE
    found = engine.jobs()
    if args.json:
        print(json.dumps([s.to_dict() for s in found], indent=2))
        return 0
    if not found:
        print(f"no jobs on {engine.client().scheduler.address}")
        return 0
    print(f"{'id':<16}  {'kind':<9} {'state':<8} {'step':>11} {'images/s':>9}  title")
    for s in found:
        steps = f"{s.step}/{s.total}" if s.total else str(s.step)
        print(f"{s.id:<16}  {s.kind:<9} {s.state:<8} {steps:>11} {s.images_per_s:>9.0f}  {s.title}")
    return 0


def _known_job(args: argparse.Namespace):
    """(the job's status, None), or (None, the exit code) when there is no engine or it knows no such job."""
    from explorer.engine import jobs as engine

    if not _need_scheduler(args):
        return None, EXIT_NO_ENGINE
    st = engine.status(args.id)
    if st.state is None:
        print(f"error: the engine knows no job {args.id}", file=sys.stderr)
        return None, EXIT_UNKNOWN_JOB
    return st, None


def cmd_stop(args: argparse.Namespace) -> int:
    from explorer.engine import jobs as engine

    st, code = _known_job(args)
    if st is None:
        return code
    if not st.active or not engine.stop(args.id):
        print(f"job {st.id} is not running: it is {st.state}")
        return 0
    print(f"stopping job {st.id} (at step {st.step}); it saves what it has done and ends before its next step")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from explorer.engine import jobs as engine

    st, code = _known_job(args)
    if st is None:
        return code
    print(f"job {st.id} ({st.kind}, {st.title}) on {engine.client().scheduler.address}: {st.state}")
    try:
        return follow(st.key)
    except KeyboardInterrupt:
        print("\nno longer following (the job goes on)")
        return 130


def add_scheduler_arg(
    p: argparse.ArgumentParser, text: str = "the Dask scheduler (default: $EXPLORER_SCHEDULER)"
) -> None:
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:8786", help=text)


def add_job_commands(sub) -> None:
    """The ``jobs``, ``stop`` and ``watch`` subcommands, on ``build_parser``'s subparsers."""
    p = sub.add_parser("jobs", help="the jobs on the engine's cluster: queued, running and recently ended")
    p.add_argument("--json", action="store_true", help="id, kind, title, state, step, total, images_per_s as JSON")
    add_scheduler_arg(p)
    p.set_defaults(func=cmd_jobs)
    p = sub.add_parser("stop", help="stop a job (it saves what it has done and ends before its next step)")
    p.add_argument("id", help="the job's id (train --detach prints it; jobs lists them)")
    add_scheduler_arg(p)
    p.set_defaults(func=cmd_stop)
    p = sub.add_parser("watch", help="follow a job until it ends: exit 0 done, 1 failed, 2 stopped")
    p.add_argument("id", help="the job's id (train --detach prints it; jobs lists them)")
    add_scheduler_arg(p)
    p.set_defaults(func=cmd_watch)
