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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explorer", description="ResNet Explorer")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("summary", help="parameters, MACs, shapes and receptive fields of a network")
    add_model_args(p)
    p.add_argument("--input-size", type=int, default=None, help="square input side (224 or 32 by default)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
