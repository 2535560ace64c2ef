"""``python -m explorer train``: networks trained in lock-step, in this process or as a job on the engine
(``--scheduler``; ``--detach`` submits and prints the job's id), and the flags that set its recipe."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from explorer.cli.jobs import (
    EXIT_DONE,
    EXIT_FAILED,
    EXIT_STOPPED,
    add_scheduler_arg,
    follow,
    progress_bar,
    scheduler_of,
)
from explorer.cli.networks import add_model_args, config_from_args
from explorer.engine.records import Job
from explorer.models.config import ResNetConfig, replace_config
from explorer.training import runs
from explorer.training.config import OPTIMIZERS, SCHEDULES, TrainConfig
from explorer.training.history import History
from explorer.training.presets import PRESET_MODELS, PRESETS


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


def cmd_train(args: argparse.Namespace) -> int:
    """Train in one of four modes: more steps for a saved run (``--extend``), submit and exit (``--detach``),
    a job on the engine followed here (``--scheduler``), or in this process. Torch is imported here, not when the
    command line is parsed: the commands that train nothing start without it."""
    import torch

    from explorer.devices import pick_device
    from explorer.tasks import training as tasks

    if args.threads:
        torch.set_num_threads(args.threads)
    scheduler = scheduler_of(args)
    if args.detach and not scheduler:
        print("error: --detach needs a scheduler (--scheduler or $EXPLORER_SCHEDULER)", file=sys.stderr)
        return 2
    if not scheduler:  # on the engine, the worker resolves the device: it may have a GPU this machine lacks
        pick_device(args.device)  # a ValueError (reported by main) for a device this machine lacks
    if args.extend:
        return _extend(args)
    configs, config = _recipe(args)
    job = tasks.training_job(
        args.name or args.preset or "train", configs, config, Path(args.root).resolve(), data_root=args.data_root,
        download=args.download, out=args.out, device=args.device, checkpoint_every=args.checkpoint_every,
    )  # fmt: skip
    if args.detach:
        return _detach(job, configs)
    where = "the engine's worker" if scheduler else pick_device(args.device)
    print(f"training {', '.join(c.name for c in configs)} on {config.dataset} for {config.steps} steps on {where}")
    try:
        return _train_on_engine(job, args.root) if scheduler else _train_here(job)
    except FileNotFoundError as e:  # main() reports ValueErrors; a missing dataset is reported the same way
        print(f"error: {e}", file=sys.stderr)
        return 2


def _recipe(args: argparse.Namespace) -> tuple[list[ResNetConfig], TrainConfig]:
    """The networks and the TrainConfig the flags ask for: the preset's (or TrainConfig's) with the set flags."""
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
    return list(dict.fromkeys(configs)), config  # --plain-and-residual with --plain would list twins twice


def _extend(args: argparse.Namespace) -> int:
    """``--extend RUN_DIR``: more steps for a saved run, in this process."""
    from explorer.engine.worker import LocalContext
    from explorer.tasks import training as tasks

    job = tasks.extend_job(args.extend, args.steps or 100, data_root=args.data_root, device=args.device)
    result = job.fn(job.spec, LocalContext(on_report=progress_bar))
    _print_results(History.from_dict(result["history"]))
    print(f"run extended: {result['run_dir']}")
    return 0


def _detach(job: Job, configs: list[ResNetConfig]) -> int:
    """``--detach``: submit (or join) the job, print how to follow and stop it, and its id as the last line."""
    from explorer.engine import jobs as engine

    engine.submit(job)
    print(f"job {job.id} ({job.kind}, {', '.join(c.name for c in configs)}) on {engine.client().scheduler.address}")
    print(f"follow it: python -m explorer watch {job.id}    stop it: python -m explorer stop {job.id}")
    print(job.id)
    return 0


def _train_here(job: Job) -> int:
    """Run the training job in this process, with a progress bar."""
    from explorer.engine.worker import LocalContext

    result = job.fn(job.spec, LocalContext(on_report=progress_bar))
    return _print_run(result, Path(result["run_dir"]))


def _train_on_engine(job: Job, root: str) -> int:
    """Submit the job and follow it; Ctrl-C stops it (a later run of the same command goes on from its checkpoint)."""
    from explorer.engine import jobs as engine

    print(f"job {job.id} on {engine.client().scheduler.address}")
    engine.submit(job)
    try:
        code = follow(job.key)
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
    path = runs.save_result(result, root) if "state_dicts" in result else Path(result["run_dir"])
    return _print_run(result, path)


def _print_run(result: dict, path: Path) -> int:
    """The trained run's speed, its table of results and where it was saved."""
    history = History.from_dict(result["history"])
    print(f"{history.wall_s:.1f} s, {history.images_per_s:.0f} images/s per lock-step")
    _print_results(history)
    print(f"run saved: {path}")
    return 0


def add_train_args(p: argparse.ArgumentParser) -> None:
    """Flags of ``train``; unset ones take the preset's value (or TrainConfig's default)."""
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
