"""``python -m explorer paths``: the gradient by path length (Veit et al. 2016, Fig. 6) of a saved run's network or of
a fresh one, as JSON (``explorer.interpret.paths``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_paths(args: argparse.Namespace) -> int:
    import torch

    from explorer.experiments.path_lengths import run_paths, untrained_paths

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.untrained == bool(args.run):
        print("error: give either --run RUN --network NAME or --untrained --depth D", file=sys.stderr)
        return 2
    if args.run and not args.network:
        print("error: --run needs --network (e.g. ResNet-56)", file=sys.stderr)
        return 2

    def progress(done: int, total: int) -> None:
        sys.stdout.write(f"\r{done}/{total} backward passes")
        sys.stdout.write("\n" if done == total else "")
        sys.stdout.flush()

    if args.run:
        result = run_paths(
            args.run, args.network, args.samples, args.seed, args.images, progress, target_se=args.target_se
        )
    else:
        result = untrained_paths(
            args.depth,
            args.samples,
            args.seed,
            preact=args.preact,
            images=args.images,
            progress=progress,
            target_se=args.target_se,
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result.to_dict(), indent=1))
    lo, hi = result.effective_range
    print(f"{result.network}: {result.blocks} blocks; 90% of the gradient in paths of {lo} to {hi} blocks")
    print(f"share in paths shorter than {result.blocks / 2:g} blocks: {result.share_shorter_than_half:.3f}")
    print(f"wrote {out}")
    return 0


def cmd_paths_asset(args: argparse.Namespace) -> int:
    import time

    import torch

    from explorer.experiments.path_lengths import save_path_lengths

    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    print(f"gradient by path length: the networks of {args.run} and CIFAR ResNets {args.depths} at initialisation")
    path = save_path_lengths(
        args.out, args.run, args.samples, args.seed, tuple(args.depths), target_se=args.target_se or None
    )
    print(f"wrote {path} in {time.perf_counter() - start:.0f} s")
    return 0


def add_parser(sub) -> None:
    """Register ``paths`` and ``paths-asset``."""
    p = sub.add_parser("paths", help="the gradient carried by paths of each length (Veit et al. 2016), as JSON")
    p.add_argument("--run", default=None, metavar="RUN_DIR", help="a saved run (e.g. assets/runs/degradation)")
    p.add_argument("--network", default=None, help="a residual network of the run, e.g. ResNet-56")
    p.add_argument("--untrained", action="store_true", help="a fresh CIFAR ResNet instead (with --depth)")
    p.add_argument("--depth", type=int, default=20, help="with --untrained: 6n+2")
    p.add_argument("--preact", action="store_true", help="with --untrained: the 2016 pre-activation block")
    p.add_argument("--samples", type=int, default=32, help="measurements per path length")
    p.add_argument(
        "--target-se",
        type=float,
        default=None,
        metavar="SHARE",
        help="then measure the lengths of the effective range more, until each standard error is under SHARE of "
        "its mean (e.g. 0.1; --samples is then the first round's)",
    )
    p.add_argument("--images", type=int, default=128, help="images the measurements cycle through")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--out", required=True, metavar="FILE.json")
    p.set_defaults(func=cmd_paths)
    p = sub.add_parser("paths-asset", help="the Gradients page's precomputed gradient by path length")
    p.add_argument("--run", default=None, metavar="RUN_DIR", help="a saved run whose networks are measured trained")
    p.add_argument("--depths", type=int, nargs="+", default=[20, 56, 110], help="CIFAR ResNets at initialisation")
    p.add_argument("--samples", type=int, default=32, help="measurements of every path length")
    p.add_argument(
        "--target-se",
        type=float,
        default=0.1,
        metavar="SHARE",
        help="then more at the lengths of the effective range, until each standard error is under SHARE of its "
        "mean (0: none)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--out", default="assets/experiments", help="folder to write")
    p.set_defaults(func=cmd_paths_asset)
