"""Command line: ``python -m explorer summary|...``; the same functions the app's pages call."""

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
        step, total, ips, eta, metrics = p["step"], p["total"], p["images_per_s"], p["eta_s"], p.get("metrics") or {}
    else:
        step, total, ips, eta, metrics = p.step, p.total, p.images_per_s, p.eta_s, p.metrics
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


def cmd_train(args: argparse.Namespace) -> int:
    import dataclasses
    import os
    import time
    from pathlib import Path

    import torch

    from explorer import engine, tasks
    from explorer.devices import pick_device
    from explorer.models import replace_config
    from explorer.runs import _slug, extend_run
    from explorer.training import PRESET_MODELS, PRESETS, TrainConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    scheduler = args.scheduler or os.environ.get(engine.SCHEDULER_ENV)
    if not scheduler:  # on the engine, the worker resolves the device: it may have a GPU this machine lacks
        pick_device(args.device)  # a ValueError (reported by main) for a device this machine lacks
    if args.extend:
        device = pick_device(args.device)
        run = extend_run(args.extend, args.steps or 100, progress=_progress_bar, root=args.data_root, device=device)
        _print_results(run.history)
        print(f"run extended: {run.path}")
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
    out = args.out
    if out is None and not scheduler:  # in-process: a new timestamped folder; on the engine: one per job key
        out = Path(args.root) / f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(name)}"
    key, spec = tasks.training_job(
        name, configs, config, args.root, data_root=args.data_root, download=args.download, out=out, device=args.device
    )
    where = "the engine's worker" if scheduler else pick_device(args.device)
    print(f"training {', '.join(c.name for c in configs)} on {config.dataset} for {config.steps} steps on {where}")
    try:
        if scheduler:
            os.environ[engine.SCHEDULER_ENV] = scheduler
            result = _train_on_engine(key, spec, name)
            if result is None:
                return 1
            path = Path(result["run_dir"]) if Path(result["run_dir"]).is_dir() else tasks.save_result(result, args.root)
        else:
            result = tasks.train_task(spec, engine.LocalContext(on_report=_progress_bar))
            path = Path(result["run_dir"])
    except FileNotFoundError as e:  # main() reports ValueErrors; a missing dataset is reported the same way
        print(f"error: {e}", file=sys.stderr)
        return 2
    from explorer.recorders import History

    history = History.from_dict(result["history"])
    print(f"{history.wall_s:.1f} s, {history.images_per_s:.0f} images/s per lock-step")
    _print_results(history)
    print(f"run saved: {path}")
    return 0


def _train_on_engine(key: str, spec: dict, name: str) -> dict | None:
    """Submit (or join) the training job on $EXPLORER_SCHEDULER's cluster and print its progress until it ends."""
    from explorer import engine

    print(f"job {engine.job_id(key)} on {engine.client().scheduler.address}")
    engine.submit("train", key, spec, name)
    said, shown = set(), [-1]

    def show(s) -> None:
        note = s.message if s.state in (engine.LOST, engine.FAILED) else ""
        if s.state == engine.QUEUED:
            note = f"waiting for a worker: {s.position} job(s) ahead"
        if note and note not in said:
            said.add(note)
            print(note, file=sys.stderr if s.state != engine.QUEUED else sys.stdout, flush=True)
        if s.step != shown[0]:  # redraw only when a step has passed
            shown[0] = s.step
            _progress_bar(s.snapshot)

    try:
        st = engine.wait(key, on_status=show)
    except KeyboardInterrupt:
        engine.stop(key)
        st = engine.wait(key, timeout=30)
        print(f"\nstopped at step {st.step}; run the same command again to go on from its last checkpoint")
        return None
    if st.state == engine.FAILED:
        print(f"error: {st.message}", file=sys.stderr)
        return None
    return engine.result(key)


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
        sys.stdout.write(
            f"\r[{'#' * done}{'.' * (width - done)}] {p.done}/{p.total}  {p.points_per_s:.2f} points/s  ETA {eta}"
        )
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
        "--scheduler",
        default=None,
        metavar="tcp://HOST:8786",
        help="train on this Dask cluster (default: $EXPLORER_SCHEDULER, else in this process)",
    )


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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
