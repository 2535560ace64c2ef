"""Command line: ``python -m explorer summary|...``; the same functions the app's pages call."""

from __future__ import annotations

import argparse
import json
import sys

from explorer.models import FAMILIES, SHORTCUTS, ResNetConfig, build_resnet
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
    )


def cmd_summary(args: argparse.Namespace) -> int:
    model = build_resnet(config_from_args(args))
    s = summarize(model, args.input_size)
    print(json.dumps(s.to_dict(), indent=2) if args.json else format_summary(s))
    return 0


def _progress_bar(p) -> None:
    """One line, redrawn in place: bar, step, images/s, ETA and each network's loss."""
    width = 24
    done = int(width * p.step / max(1, p.total))
    losses = "  ".join(f"{k} {v['loss']:.3f}" for k, v in p.metrics.items())
    eta = f"{int(p.eta_s) // 60}:{int(p.eta_s) % 60:02d}"
    line = f"\r[{'#' * done}{'.' * (width - done)}] {p.step}/{p.total}  {p.images_per_s:.0f} img/s  ETA {eta}  {losses}"
    sys.stdout.write(line)
    if p.step == p.total:
        sys.stdout.write("\n")
    sys.stdout.flush()


def _print_results(history) -> None:
    print(f"{'network':<12} {'train loss':>10} {'train acc':>9} {'held-out acc':>12}  note")
    for name, h in history.models.items():
        acc = sum(h.accuracy[-10:]) / max(1, len(h.accuracy[-10:]))
        held = f"{h.eval_accuracy[-1]:.3f}" if h.eval_accuracy else "-"
        print(f"{name:<12} {h.final_loss():>10.3f} {acc:>9.3f} {held:>12}  {h.stopped_reason or ''}")


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
    import dataclasses

    import torch

    from explorer.devices import pick_device
    from explorer.models import replace_config
    from explorer.runs import extend_run, save_run
    from explorer.training import PRESET_MODELS, PRESETS, TrainConfig, build_models, load_train_data, train_lockstep

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)  # a ValueError (reported by main) for a device this machine lacks
    if args.extend:
        run = extend_run(args.extend, args.steps or 100, progress=_progress_bar, root=args.data_root, device=device)
        _print_results(run.history)
        print(f"run extended: {run.path}")
        return 0
    base = PRESETS[args.preset] if args.preset else TrainConfig()
    changes = {f: getattr(args, a) for a, f in TRAIN_FLAGS.items() if getattr(args, a) is not None}
    changes.update({k: True for k in ("channels_last", "augment") if getattr(args, k)})
    config = dataclasses.replace(base, **changes)
    try:
        train, held_out = load_train_data(config, root=args.data_root, download=args.download)
    except FileNotFoundError as e:  # main() reports ValueErrors; a missing dataset is reported the same way
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.preset and args.depth is None:
        configs = list(PRESET_MODELS[args.preset])
    else:
        configs = [config_from_args(args, d) for d in (args.depth or [20])]
        if args.plain_and_residual:
            configs = [replace_config(c, residual=r) for c in configs for r in (False, True)]
    info = train.info
    configs = [replace_config(c, num_classes=info.num_classes, in_channels=info.in_channels) for c in configs]
    configs = list(dict.fromkeys(configs))  # --plain-and-residual with --plain would list twins twice
    models = build_models(configs, config.seed)
    print(
        f"training {', '.join(models)} on {info.name} ({len(train)} images, {info.image_size}px) "
        f"for {config.steps} steps on {device}"
    )
    optimizers: dict = {}
    history = train_lockstep(
        models, train, config, held_out, progress=_progress_bar, optimizers=optimizers, device=device
    )
    print(f"{history.wall_s:.1f} s, {history.images_per_s:.0f} images/s per lock-step")
    _print_results(history)
    name = args.name or args.preset or "train"
    path = save_run(
        models, history, config, out=args.out, root=args.root, name=name, optimizers=optimizers, dataset_info=info
    )
    print(f"run saved: {path}")
    return 0


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
    from explorer.experiments.precompute import save_lesions, save_sweeps

    def progress(i: int, n: int) -> None:
        print(f"  network {i} of {n}", flush=True)

    print("gradient norms across depths, then shattered gradients, at initialisation")
    for path in save_sweeps(args.out, seed=args.seed, progress=progress):
        print(f"wrote {path}")
    if args.lesion_run:
        print(f"lesion study of every network in {args.lesion_run}")
        print(f"wrote {save_lesions(args.lesion_run, args.out)}")
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
    p.set_defaults(func=cmd_precompute)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
