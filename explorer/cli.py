"""Command line: ``python -m explorer summary|train|runs|...``; the same functions the app's pages call.

The job commands talk to the engine's cluster (``--scheduler`` or ``$EXPLORER_SCHEDULER``): ``train --detach``
submits (or joins) and prints the job's id last; ``jobs [--json]`` lists them; ``stop ID``; ``watch ID`` follows one
(exit 0 done, 1 failed, 2 stopped; 3 no such job, 4 no engine: one plain line, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys

from explorer.models import BLOCKS, FAMILIES, SHORTCUTS, ResNetConfig, build_resnet
from explorer.summary import format_summary, summarize


def add_model_args(p: argparse.ArgumentParser, multi_depth: bool = False) -> None:
    """Flags that name a network (shared by every subcommand that builds one)."""
    p.add_argument("--family", choices=FAMILIES, default="cifar", help="cifar (6n+2) or imagenet (18..152)")
    if multi_depth:
        p.add_argument("--depth", type=int, nargs="+", default=[20], help="one or more depths")
    else:
        p.add_argument("--depth", type=int, default=20, help="6n+2 for cifar; 18/34/50/101/152 for imagenet")
    p.add_argument("--plain", action="store_true", help="the plain twin: no shortcuts at all")
    p.add_argument("--shortcut", choices=SHORTCUTS, default=None, help="A: zero-pad identity, B: projection")
    p.add_argument("--width", type=int, default=None, help="channels of the first stage")
    p.add_argument("--num-classes", type=int, default=None)
    p.add_argument("--in-channels", type=int, default=3)
    p.add_argument("--stem", choices=("imagenet", "small"), default=None, help="imagenet family only")
    p.add_argument("--preact", action="store_true", help="He et al. 2016's full pre-activation blocks (cifar)")
    p.add_argument("--block", choices=BLOCKS, default=None, help="cifar: basic (6n+2, default) or bottleneck (9n+2)")


def config_from_args(args: argparse.Namespace, depth: int | None = None) -> ResNetConfig:
    """The ResNetConfig the model flags name."""
    return ResNetConfig(
        family=args.family,
        depth=args.depth if depth is None else depth,
        residual=not args.plain,
        shortcut=args.shortcut,
        width=args.width,
        num_classes=args.num_classes,
        in_channels=args.in_channels,
        stem=args.stem,
        preact=args.preact,
        block=args.block,
    )


def cmd_summary(args: argparse.Namespace) -> int:
    model = build_resnet(config_from_args(args))
    s = summarize(model, args.input_size)
    print(json.dumps(s.to_dict(), indent=2) if args.json else format_summary(s))
    return 0


def _progress_bar(p) -> None:
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


def _print_results(history) -> None:
    print(f"{'network':<12} {'train loss':>10} {'train acc':>9} {'held-out acc':>12}  note")
    for name, h in history.models.items():
        held = f"{h.eval_accuracy[-1]:.3f}" if h.eval_accuracy else "-"
        print(f"{name:<12} {h.final_loss():>10.3f} {h.final_accuracy():>9.3f} {held:>12}  {h.stopped_reason or ''}")


TRAIN_FLAGS = {  # flag -> TrainConfig field; unset flags keep the preset's (or TrainConfig's) value
    "steps": "steps",
    "batch_size": "batch_size",
    "optimizer": "optimizer",
    "lr": "lr",
    "schedule": "schedule",
    "weight_decay": "weight_decay",
    "momentum": "momentum",
    "warmup": "warmup",
    "eval_every": "eval_every",
    "record_every": "record_every",
    "seed": "seed",
    "dataset": "dataset",
    "train_size": "train_size",
    "eval_size": "eval_size",
    "image_size": "image_size",
}

# exit codes of the job commands (``watch`` and an attached ``train``): how the job ended, or why there is none
EXIT_DONE, EXIT_FAILED, EXIT_STOPPED, EXIT_UNKNOWN_JOB, EXIT_NO_ENGINE = 0, 1, 2, 3, 4
ENDED = {"done": EXIT_DONE, "failed": EXIT_FAILED, "stopped": EXIT_STOPPED}


def _scheduler(args: argparse.Namespace) -> str | None:
    """The scheduler a command uses: ``--scheduler``, else ``$EXPLORER_SCHEDULER`` (the engine reads the latter)."""
    import os

    from explorer import engine

    address = getattr(args, "scheduler", None) or os.environ.get(engine.SCHEDULER_ENV) or None
    if address:
        os.environ[engine.SCHEDULER_ENV] = address
        if "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT" not in os.environ:  # a plain answer soon, not after 30 s
            import dask

            dask.config.set({"distributed.comm.timeouts.connect": "10s"})
    return address


def cmd_train(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    import torch

    from explorer import engine, runs, tasks
    from explorer.devices import pick_device
    from explorer.models import replace_config
    from explorer.recorders import History
    from explorer.training import PRESET_MODELS, PRESETS, TrainConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    scheduler = _scheduler(args)
    if args.detach and not scheduler:
        print("error: --detach needs a scheduler (--scheduler or $EXPLORER_SCHEDULER)", file=sys.stderr)
        return 2
    if not scheduler:  # on the engine, the worker resolves the device: it may have a GPU this machine lacks
        pick_device(args.device)  # a ValueError (reported by main) for a device this machine lacks
    if args.extend:
        job = tasks.extend_job(args.extend, args.steps or 100, data_root=args.data_root, device=args.device)
        result = job.fn(job.spec, engine.LocalContext(on_report=_progress_bar))
        _print_results(History.from_dict(result["history"]))
        print(f"run extended: {result['run_dir']}")
        return 0
    base = PRESETS[args.preset] if args.preset else TrainConfig()
    changes = {f: getattr(args, a) for a, f in TRAIN_FLAGS.items() if getattr(args, a) is not None}
    changes.update({k: True for k in ("channels_last", "augment") if getattr(args, k)})
    config = dataclasses.replace(base, **changes)
    if args.preset and args.depth is None:
        configs = list(PRESET_MODELS[args.preset])
    else:
        configs = [config_from_args(args, d) for d in (args.depth or [20])]
        if args.plain_and_residual:
            configs = [replace_config(c, residual=r) for c in configs for r in (False, True)]
    configs = list(dict.fromkeys(configs))  # --plain-and-residual with --plain would list twins twice
    name = args.name or args.preset or "train"
    job = tasks.training_job(
        name, configs, config, Path(args.root).resolve(), data_root=args.data_root, download=args.download,
        out=args.out, device=args.device, checkpoint_every=args.checkpoint_every,
    )  # fmt: skip
    if args.detach:
        engine.submit(job)
        print(f"job {job.id} ({job.kind}, {', '.join(c.name for c in configs)}) on {engine.client().scheduler.address}")
        print(f"follow it: python -m explorer watch {job.id}    stop it: python -m explorer stop {job.id}")
        print(job.id)
        return 0
    where = "the engine's worker" if scheduler else pick_device(args.device)
    print(f"training {', '.join(c.name for c in configs)} on {config.dataset} for {config.steps} steps on {where}")
    try:
        if scheduler:
            print(f"job {job.id} on {engine.client().scheduler.address}")
            engine.submit(job)
            try:
                code = _follow(job.key)
            except KeyboardInterrupt:
                engine.stop(job.key)
                st = engine.wait(job.key, timeout=30)
                print(f"\nstopped at step {st.step}; run the same command again to go on from its last checkpoint")
                return EXIT_STOPPED
            if code != EXIT_DONE:
                return code
            result = engine.result(job.key)
            if result is None:  # Dask lost it with a worker: the run folder has it, if it is on this machine
                run = runs.load_resumable(job.spec["run_dir"])
                if run is None:
                    print("error: the job's result was lost with its worker; run the command again", file=sys.stderr)
                    return EXIT_FAILED
                result = {"history": run.history.to_dict(), "run_dir": str(run.path)}
            path = runs.save_result(result, args.root) if "state_dicts" in result else Path(result["run_dir"])
        else:
            result = job.fn(job.spec, engine.LocalContext(on_report=_progress_bar))
            path = Path(result["run_dir"])
    except FileNotFoundError as e:  # main() reports ValueErrors; a missing dataset is reported the same way
        print(f"error: {e}", file=sys.stderr)
        return 2
    history = History.from_dict(result["history"])
    print(f"{history.wall_s:.1f} s, {history.images_per_s:.0f} images/s per lock-step")
    _print_results(history)
    print(f"run saved: {path}")
    return 0


def _follow(key: str) -> int:
    """Print job ``key``'s progress until it ends (queue place, a lost worker, where it resumed); its exit code."""
    from explorer import engine

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
            _progress_bar(s.snapshot)

    st = engine.wait(key, on_status=show)
    if st.state == engine.DONE and st.step != shown[0]:
        _progress_bar(st.snapshot)  # the last step, even when the job ended between two looks
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
    if _scheduler(args):
        return True
    print("error: no scheduler: give --scheduler tcp://HOST:8786 or set $EXPLORER_SCHEDULER", file=sys.stderr)
    return False


def cmd_jobs(args: argparse.Namespace) -> int:
    from explorer import engine

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


def cmd_stop(args: argparse.Namespace) -> int:
    from explorer import engine

    if not _need_scheduler(args):
        return EXIT_NO_ENGINE
    st = engine.status(args.id)
    if st.state is None:
        print(f"error: the engine knows no job {args.id}", file=sys.stderr)
        return EXIT_UNKNOWN_JOB
    if not st.active or not engine.stop(args.id):
        print(f"job {st.id} is not running: it is {st.state}")
        return 0
    print(f"stopping job {st.id} (at step {st.step}); it saves what it has done and ends before its next step")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from explorer import engine

    if not _need_scheduler(args):
        return EXIT_NO_ENGINE
    st = engine.status(args.id)
    if st.state is None:
        print(f"error: the engine knows no job {args.id}", file=sys.stderr)
        return EXIT_UNKNOWN_JOB
    print(f"job {st.id} ({st.kind}, {st.title}) on {engine.client().scheduler.address}: {st.state}")
    try:
        return _follow(st.key)
    except KeyboardInterrupt:
        print("\nno longer following (the job goes on)")
        return 130


def cmd_runs(args: argparse.Namespace) -> int:
    from explorer.runs import list_runs

    runs = list_runs(args.root)
    if not runs:
        print(f"no runs under {args.root}")
        return 0
    for run in runs:
        losses = "  ".join(f"{k} {v:.3f}" for k, v in run.final_losses().items())
        print(f"{run.path}  {run.meta.get('updated', '')}  {run.history.step} steps  {losses}")
    return 0


def cmd_precompute(args: argparse.Namespace) -> int:
    from explorer.experiments.precompute import save_lesions, save_sweeps, save_zero_gamma

    def progress(i: int, n: int) -> None:
        print(f"  network {i} of {n}", flush=True)

    print("gradient norms across depths, then shattered gradients, at initialisation")
    for path in save_sweeps(args.out, seed=args.seed, progress=progress):
        print(f"wrote {path}")
    print("||F(x)|| / ||shortcut(x)|| per block at initialisation, with and without zero-gamma")
    print(f"wrote {save_zero_gamma(args.out, seed=args.seed)}")
    from explorer.experiments.precompute import save_network_costs

    print(f"wrote {save_network_costs(args.out)}  (the Learn page's parameter and multiply-accumulate counts)")
    if args.lesion_run:
        print(f"lesion study of every network in {args.lesion_run}")
        print(f"wrote {save_lesions(args.lesion_run, args.out)}")
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


def add_train_args(p: argparse.ArgumentParser) -> None:
    """Flags of ``train``; unset ones take the preset's value (or TrainConfig's default)."""
    from explorer.training import OPTIMIZERS, PRESETS, SCHEDULES

    add_model_args(p, multi_depth=True)
    p.set_defaults(depth=None)  # None: the preset's networks (or ResNet-20)
    p.add_argument("--plain-and-residual", action="store_true", help="train each depth's plain and residual twins")
    p.add_argument("--preset", choices=tuple(PRESETS), default=None, help="start from a named recipe")
    p.add_argument("--dataset", default=None, help="shapes, cifar10, mnist, fashion-mnist or an image folder/zip")
    p.add_argument("--data-root", default=None, help="folder holding torchvision datasets (default ./data)")
    p.add_argument("--download", action="store_true", help="let torchvision download a missing dataset")
    p.add_argument("--steps", type=int, default=None, help="lock-steps (with --extend: steps to add)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=None)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--schedule", choices=SCHEDULES, default=None, help="cosine, constant, or step (/10 at milestones)")
    p.add_argument("--weight-decay", type=float, default=None)
    p.add_argument("--momentum", type=float, default=None, help="SGD momentum")
    p.add_argument("--warmup", type=int, default=None, help="warm-up steps (linear ramp)")
    p.add_argument("--eval-every", type=int, default=None, help="held-out accuracy every N steps (0: never)")
    p.add_argument("--record-every", type=int, default=None, help="block responses every N steps (0: never)")
    p.add_argument("--seed", type=int, default=None, help="seed for weights, data and batch order")
    p.add_argument("--train-size", type=int, default=None, help="training images to use")
    p.add_argument("--eval-size", type=int, default=None, help="held-out images to evaluate on")
    p.add_argument("--image-size", type=int, default=None, help="image side in pixels (shapes are drawn at it)")
    p.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    p.add_argument("--augment", action="store_true", help="the paper's pad-crop-flip augmentation")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument(
        "--device", default="auto", help="auto (CUDA, then Apple's MPS, then the CPU), cpu, cuda, cuda:1 or mps"
    )
    p.add_argument("--out", default=None, help="run directory to write (default: a new one under --root)")
    p.add_argument("--root", default="runs", help="where new run directories go")
    p.add_argument("--name", default=None, help="run name (default: the preset's)")
    p.add_argument("--extend", default=None, metavar="RUN_DIR", help="continue this run for --steps more steps")
    p.add_argument(
        "--checkpoint-every", type=int, default=50, metavar="N", help="save the run every N steps (0: only at the end)"
    )
    add_scheduler_arg(p, "train on this Dask cluster (default: $EXPLORER_SCHEDULER, else in this process)")
    p.add_argument(
        "--detach",
        action="store_true",
        help="submit (or join) the job on the cluster, print its id as the last line and exit",
    )


def add_scheduler_arg(
    p: argparse.ArgumentParser, text: str = "the Dask scheduler (default: $EXPLORER_SCHEDULER)"
) -> None:
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:8786", help=text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explorer", description="ResNet Explorer")
    sub = parser.add_subparsers(dest="command", required=True)
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
    p = sub.add_parser("precompute", help="the gradient-norm depth sweep and shattered-gradients probe, as JSON")
    p.add_argument("--out", default="assets/experiments", help="folder to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lesion-run", default=None, metavar="RUN_DIR", help="also the lesion study of this run's networks")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from explorer.engine import EngineUnavailable

    try:
        return args.func(args)
    except EngineUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        _exit_now(EXIT_NO_ENGINE)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (OSError, TimeoutError) as e:  # the scheduler went away while a job command was talking to it
        if getattr(args, "func", None) in (cmd_jobs, cmd_stop, cmd_watch) or getattr(args, "scheduler", None):
            print(f"error: lost the job engine: {type(e).__name__}: {e}", file=sys.stderr)
            _exit_now(EXIT_NO_ENGINE)
        raise


def _exit_now(code: int) -> None:
    """Exit at once, once the plain line is out: a Dask client left half-made by a failed connection would
    otherwise wait at exit for a scheduler that is not there, and print its own traceback."""
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
