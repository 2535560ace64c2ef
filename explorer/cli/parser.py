"""Command line: ``python -m explorer summary|train|runs|...``; the same functions the app's pages call.

The job commands talk to the engine's cluster (``--scheduler`` or ``$EXPLORER_SCHEDULER``): ``train --detach``
submits (or joins) and prints the job's id last; ``jobs [--json]`` lists them; ``stop ID``; ``watch ID`` follows one
(exit 0 done, 1 failed, 2 stopped; 3 no such job, 4 no engine: one plain line, never a traceback).
Those live in ``cli.jobs``, ``train`` in ``cli.train``, the network flags in ``cli.networks``; this file holds
the other commands, the parser and ``main``.
"""

from __future__ import annotations

import argparse
import json
import sys

from explorer.cli import class_experiment
from explorer.cli.explain import add_parser as add_explain_parser
from explorer.cli.jobs import EXIT_NO_ENGINE, add_job_commands, cmd_jobs, cmd_stop, cmd_watch
from explorer.cli.networks import add_model_args, config_from_args
from explorer.cli.paths import add_parser as add_paths_parser
from explorer.cli.train import add_train_args, cmd_train


def cmd_summary(args: argparse.Namespace) -> int:
    from explorer.models.resnet import build_resnet
    from explorer.models.summary import format_summary, summarize

    model = build_resnet(config_from_args(args))
    s = summarize(model, args.input_size)
    print(json.dumps(s.to_dict(), indent=2) if args.json else format_summary(s))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from explorer.training.runs import list_runs

    runs = list_runs(args.root)
    if not runs:
        print(f"no runs under {args.root}")
        return 0
    for run in runs:
        losses = "  ".join(f"{k} {v:.3f}" for k, v in run.final_losses().items())
        print(f"{run.path}  {run.meta.get('updated', '')}  {run.history.step} steps  {losses}")
    return 0


def cmd_precompute(args: argparse.Namespace) -> int:
    from explorer.experiments.init_gradients import save_init_gradients
    from explorer.experiments.precompute import (
        save_block_costs,
        save_layer_responses,
        save_lesions,
        save_network_costs,
        save_sweeps,
        save_zero_gamma,
    )

    def progress(i: int, n: int) -> None:
        print(f"  network {i} of {n}", flush=True)

    print("gradient norms of every untrained network the sidebar offers (the Gradients page's first chart)")
    print(f"wrote {save_init_gradients(args.out, seed=args.seed, progress=progress)}")
    if args.init_gradients_only:
        return 0
    print("gradient norms across depths, then shattered gradients, at initialisation")
    for path in save_sweeps(args.out, seed=args.seed, progress=progress):
        print(f"wrote {path}")
    print("||F(x)|| / ||shortcut(x)|| per block at initialisation, with and without zero-gamma")
    print(f"wrote {save_zero_gamma(args.out, seed=args.seed)}")
    print(f"wrote {save_network_costs(args.out)}  (the Learn page's parameter and multiply-accumulate counts)")
    print(f"wrote {save_block_costs(args.out)}  (the parameters of a basic and a bottleneck block)")
    if args.lesion_run:
        print(f"lesion study of every network in {args.lesion_run}")
        print(f"wrote {save_lesions(args.lesion_run, args.out)}")
    if args.responses_runs:
        print(f"wrote {save_layer_responses(args.responses_runs, args.out)}  (Inside's Fig. 7 layer responses)")
    if args.relu_runs:
        from explorer.experiments.relu_place import save_relu_place

        print(f"wrote {save_relu_place(args.relu_runs, args.out)}")
    return 0


def cmd_landscape(args: argparse.Namespace) -> int:
    import torch

    from explorer.experiments.landscape import run_landscape

    if args.threads:
        torch.set_num_threads(args.threads)

    def progress(p) -> None:
        width = 24
        done = int(width * p.done / max(1, p.total))
        eta = f"{int(p.eta_s) // 60}:{int(p.eta_s) % 60:02d}"
        sys.stdout.write(f"\r[{'#' * done}{'.' * (width - done)}] {p.done}/{p.total}  {p.rate:.2f} points/s  ETA {eta}")
        if p.done == p.total:
            sys.stdout.write("\n")
        sys.stdout.flush()

    what = f"{args.line} line" if args.line else f"{args.grid}x{args.grid} loss surface"
    print(f"{what} of {args.network} on {args.images} training images, seed {args.seed}")
    result = run_landscape(
        args.run, args.network, args.grid, args.span, args.images, args.seed, args.line, progress, None, args.data_root,
        args.precision,
    )  # fmt: skip
    from pathlib import Path

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result.to_dict()))
    points = args.grid if args.line else args.grid**2
    print(f"{result.wall_s:.1f} s, {points / max(result.wall_s, 1e-9):.2f} points/s")
    if args.line:
        print(
            f"loss {result.loss[0]:.4f} at alpha {result.alpha[0]:g}, {result.loss[-1]:.4f} at alpha {result.alpha[-1]:g}"
        )
    else:
        print(
            f"loss at the centre {result.center_loss:.4f}, lowest {result.loss.min():.4f}, highest {result.loss.max():.4f}"
        )
    print(f"wrote {out}")
    return 0


def cmd_saliency(args: argparse.Namespace) -> int:
    """The saliency benchmark of one network of a saved run, as JSON (explorer.experiments.saliency)."""
    from pathlib import Path

    import torch

    from explorer.experiments.saliency import run_saliency

    if args.threads:
        torch.set_num_threads(args.threads)

    def progress(done: int, total: int) -> None:
        sys.stdout.write(f"\r{done}/{total} images")
        sys.stdout.write("\n" if done == total else "")
        sys.stdout.flush()

    weights = "randomised" if args.randomised else "trained"
    result = run_saliency(args.run, args.network, args.images, args.seed, weights, progress)  # main reports errors
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result))
    print(f"{result['wall_s']:.1f} s; {result['correct']} of {result['images']} images classified correctly")
    print(f"{'method':<22} {'pointing':>8} {'mass':>6} {'deletion':>8} {'insertion':>9}")
    for name, m in result["methods"].items():
        row = (
            f"{m['pointing_game']:>8.3f} {m['mass_in_mask']:>6.3f} {m['deletion_auc']:>8.3f} {m['insertion_auc']:>9.3f}"
        )
        print(f"{name:<22} {row}")
    print(f"wrote {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """``python -m explorer``'s parser: one sub-command per ``cmd_*`` function (``args.func``)."""
    parser = argparse.ArgumentParser(prog="python -m explorer", description="ResNet Explorer")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_model_commands(sub)
    _add_experiment_commands(sub)
    add_job_commands(sub)
    class_experiment.add_parser(sub)
    add_paths_parser(sub)
    add_explain_parser(sub)
    return parser


def _add_model_commands(sub) -> None:
    """``summary``, ``train`` and ``runs``."""
    p = sub.add_parser("summary", help="parameters, MACs, shapes and receptive fields of a network")
    add_model_args(p)
    p.add_argument("--input-size", type=int, default=None, help="square input side (224 or 32 by default)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_summary)
    p = sub.add_parser("train", help="train networks in lock-step on the same batches and save a run")
    add_train_args(p)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("runs", help="list saved runs")
    p.add_argument("--root", default="runs", help="folder of run directories (precomputed: assets/runs)")
    p.set_defaults(func=cmd_runs)


def _add_experiment_commands(sub) -> None:
    """``precompute``, ``landscape`` and ``saliency``: experiments written as JSON."""
    p = sub.add_parser("precompute", help="the gradient-norm depth sweep and shattered-gradients probe, as JSON")
    p.add_argument("--out", default="assets/experiments", help="folder to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--init-gradients-only", action="store_true", help="only the table of the sidebar's untrained networks"
    )
    p.add_argument("--lesion-run", default=None, metavar="RUN_DIR", help="also the lesion study of this run's networks")
    p.add_argument(
        "--responses-runs",
        nargs="+",
        default=None,
        metavar="RUN_DIR",
        help="also He et al.'s Fig. 7 layer responses of these runs' networks (the Inside page's)",
    )
    p.add_argument(
        "--relu-runs",
        nargs="+",
        default=None,
        metavar="RUN_DIR",
        help="also summarise these 'preact' runs (one per seed)",
    )
    p.set_defaults(func=cmd_precompute)
    p = sub.add_parser("landscape", help="loss surface around a trained network (Li et al. 2018), as JSON")
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="a saved run (e.g. assets/runs/degradation)")
    p.add_argument("--network", required=True, help="a network of the run, e.g. ResNet-56")
    p.add_argument("--grid", type=int, default=21, help="points per side (with --line: points on the line)")
    p.add_argument("--span", type=float, default=1.0, help="the grid covers [-span, span] in each direction")
    p.add_argument("--images", type=int, default=256, help="training images the loss is measured on")
    p.add_argument("--seed", type=int, default=0, help="seed for the directions and the image subset")
    p.add_argument("--line", choices=("init", "direction"), default=None, help="a 1-D line instead of a surface")
    p.add_argument(
        "--precision",
        choices=("float32", "bfloat16"),
        default="float32",
        help="bfloat16: 1.7-2.5x faster, losses to about 3 digits",
    )
    p.add_argument("--data-root", default=None, help="folder holding torchvision datasets (default ./data)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--out", required=True, metavar="FILE.json")
    p.set_defaults(func=cmd_landscape)

    p = sub.add_parser("saliency", help="every saliency method scored on held-out shapes with true outlines, as JSON")
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="a saved run trained on the built-in shapes")
    p.add_argument("--network", required=True, help="a network of the run, e.g. ResNet-56")
    p.add_argument("--images", type=int, default=256, help="held-out shapes to score on")
    p.add_argument("--seed", type=int, default=0, help="seed for the images, random maps, ties and random weights")
    p.add_argument("--randomised", action="store_true", help="the network with every weight randomised")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--out", required=True, metavar="FILE.json")
    p.set_defaults(func=cmd_saliency)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from explorer.engine.records import EngineUnavailable

    try:
        return args.func(args)
    except EngineUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        _exit_now(EXIT_NO_ENGINE)
    except ValueError as e:
        print(f"error: {_first_line(e)}", file=sys.stderr)
        return 2
    except (OSError, TimeoutError) as e:
        if getattr(args, "func", None) in (cmd_jobs, cmd_stop, cmd_watch) or getattr(args, "scheduler", None):
            print(f"error: lost the job engine ({_first_line(e)})", file=sys.stderr)  # it went away mid-command
            _exit_now(EXIT_NO_ENGINE)
        print(f"error: {_first_line(e)}", file=sys.stderr)  # a missing or unreadable run, file or folder
        return 2
    except Exception as e:  # a damaged file read by a library (torch, pickle, json): one line, never a traceback
        from explorer.engine.records import failure_note
        from explorer.i18n import translate

        print(f"error: {translate(failure_note(e))}", file=sys.stderr)
        return 1


def _first_line(e: BaseException) -> str:
    """An error in one line, in the user's words: an OS error as its reason and the file it concerns."""
    if isinstance(e, OSError) and e.strerror and e.filename:
        return f"{e.strerror}: {e.filename}"
    text = str(e).strip()
    return text.splitlines()[0] if text else "no details"


def _exit_now(code: int) -> None:
    """Exit at once, once the plain line is out: a Dask client left half-made by a failed connection would
    otherwise wait at exit for a scheduler that is not there, and print its own traceback."""
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
