"""``python -m explorer class-experiment new|run|show|close|open|csv``: a class experiment from the command line,
for a teacher preparing at home; the same functions the Class experiment page calls.

``run`` trains a pair through the engine as ``train`` does (``--scheduler`` or ``$EXPLORER_SCHEDULER``; without one,
the embedded cluster this process starts). A wrong or closed code is one plain line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from explorer.cli.jobs import EXIT_DONE, EXIT_STOPPED, add_scheduler_arg, follow, scheduler_of
from explorer.experiments import class_experiment as ce
from explorer.experiments import class_verdict as cv
from explorer.i18n import translate


def cmd_new(args: argparse.Namespace) -> int:
    exp = ce.new_experiment(args.root, depths=args.depths, steps=args.steps, dataset=args.dataset)
    print(f"class experiment {exp.code}: depths {', '.join(map(str, exp.depths))}, {exp.steps} steps on {exp.dataset}")
    print(f"a student contributes: python -m explorer class-experiment run {exp.code} --depth D --seed S")
    print(exp.code)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Train the pair (depth, seed) on the engine, follow it, and record it in the experiment."""
    from explorer.engine import jobs as engine
    from explorer.tasks import class_experiment as tasks

    scheduler_of(args)
    exp = ce.open_experiment(args.root, args.code)
    job = tasks.contribution_job(exp, args.depth, args.seed)
    print(f"pair {args.depth} layers, seed {args.seed}: job {job.id} on {engine.client().scheduler.address}")
    engine.submit(job)
    try:
        code = follow(job.key)
    except KeyboardInterrupt:
        engine.stop(job.key)
        print("\nstopped; run the same command again to go on from its last checkpoint")
        return EXIT_STOPPED
    if code != EXIT_DONE:
        return code
    tasks.record_from(args.root, exp.code, engine.result(job.key))
    engine.release(job.key)
    return _print_table(ce.load(args.root, exp.code))


def cmd_show(args: argparse.Namespace) -> int:
    exp = ce.load(args.root, args.code)
    if args.json:
        print(json.dumps(as_json(exp), indent=2))
        return 0
    return _print_table(exp)


def cmd_csv(args: argparse.Namespace) -> int:
    text = cv.csv_text(ce.load(args.root, args.code))
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_close(args: argparse.Namespace) -> int:
    return _say_open(ce.set_open(args.root, args.code, False))


def cmd_open(args: argparse.Namespace) -> int:
    return _say_open(ce.set_open(args.root, args.code, True))


def _say_open(exp: ce.Experiment) -> int:
    print(f"class experiment {exp.code} is {'open' if exp.open else 'closed'}")
    return 0


def _number(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 6)


def as_json(exp: ce.Experiment) -> dict:
    """``code, open, depths, steps, dataset, runs`` (each ``depth, residual, seed, final_loss, heldout_acc,
    steps``) and ``summary`` (per depth and kind: ``n, median_loss, q25, q75``); NaN as null."""
    runs = [{**r, "final_loss": _number(r["final_loss"]), "heldout_acc": _number(r["heldout_acc"])} for r in exp.rows()]
    summary = {
        str(d): {k: {f: (v if f == "n" else _number(v)) for f, v in s.items()} for k, s in kinds.items()}
        for d, kinds in cv.summary(exp).items()
    }
    return {
        "code": exp.code,
        "open": exp.open,
        "depths": list(exp.depths),
        "steps": exp.steps,
        "dataset": exp.dataset,
        "runs": runs,
        "summary": summary,
        "verdict": [translate(m) for m in cv.verdict(exp)],
    }


def _cell(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.3f}"


def _print_table(exp: ce.Experiment) -> int:
    state = "open" if exp.open else "closed"
    print(f"class experiment {exp.code} ({state}): {exp.steps} steps on {exp.dataset}")
    print(f"{'depth':>5} {'kind':<9} {'n':>3} {'median loss':>11} {'q25':>7} {'q75':>7}")
    for d, kinds in cv.summary(exp).items():
        for kind, s in kinds.items():
            cells = " ".join(f"{_cell(s[f]):>{w}}" for f, w in (("median_loss", 11), ("q25", 7), ("q75", 7)))
            print(f"{d:>5} {kind:<9} {s['n']:>3} {cells}")
    for m in cv.verdict(exp):
        print(translate(m))
    return 0


def add_parser(sub) -> None:
    """Register ``class-experiment`` and its commands."""
    p = sub.add_parser("class-experiment", help="a class trains plain and residual pairs, one seed each")
    cmds = p.add_subparsers(dest="class_command", required=True)
    new = cmds.add_parser("new", help="start an experiment and print its code")
    new.add_argument("--depths", type=int, nargs="+", default=list(ce.DEFAULT_DEPTHS))
    new.add_argument("--steps", type=int, default=ce.DEFAULT_STEPS, help="lock-steps per pair")
    new.add_argument("--dataset", default="shapes", help="shapes, or a torchvision dataset in ./data")
    new.set_defaults(func=cmd_new)
    run = cmds.add_parser("run", help="train one plain-and-residual pair as a job on the engine")
    run.add_argument("code")
    run.add_argument("--depth", type=int, required=True)
    run.add_argument("--seed", type=int, required=True)
    add_scheduler_arg(run, "train on this Dask cluster (default: $EXPLORER_SCHEDULER, else an embedded one)")
    run.set_defaults(func=cmd_run)
    show = cmds.add_parser("show", help="the table, the medians and what they say")
    show.add_argument("code")
    show.add_argument("--json", action="store_true", help="code, depths, runs and summary as JSON")
    show.set_defaults(func=cmd_show)
    out = cmds.add_parser("csv", help="one row per run, for a spreadsheet")
    out.add_argument("code")
    out.add_argument("--out", default=None, metavar="FILE.csv", help="write here (default: print)")
    out.set_defaults(func=cmd_csv)
    for name, fn, text in (("close", cmd_close, "take no new runs"), ("open", cmd_open, "take runs again")):
        c = cmds.add_parser(name, help=text)
        c.add_argument("code")
        c.set_defaults(func=fn)
    for c in cmds.choices.values():
        c.add_argument("--root", default=default_root(), help="the runs folder it lives in ($EXPLORER_RUNS or runs)")


def default_root() -> str:
    """The runs folder the app's pages use: ``$EXPLORER_RUNS`` or ``runs``."""
    return os.environ.get("EXPLORER_RUNS", "runs")
