"""The flags that name a network, shared by every subcommand that builds one, and the ResNetConfig they name."""

from __future__ import annotations

import argparse

from explorer.models.config import BLOCKS, FAMILIES, SHORTCUTS, ResNetConfig


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
