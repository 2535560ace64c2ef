"""CPU-seconds per distinct Inside view: ResNet-110 width 32 and its plain twin, random (layer, block, k, image).

Each view computes what the Inside page computes per network (feature maps, block decomposition, their figure
specs), once with one forward pass per network (``inside_view``) and once with the two separate probes, in
interleaved rounds of the same views so that load from other processes hits both alike.

PYTHONPATH=$PWD .venv/bin/python -m bench.bench_inside_view --views 30 [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time

import torch

from explorer.charts.inside import channel_stats_spec, feature_map_spec, residual_spec
from explorer.interpret import probes
from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet


def _draw(fm, dec) -> None:
    feature_map_spec(fm, cols=8, title="t")
    channel_stats_spec(fm)
    residual_spec(dec)


def one_pass(nets, layer, block, k, x) -> None:
    for m in nets:
        _draw(*probes.inside_view(m, layer, block, x, k))


def two_passes(nets, layer, block, k, x) -> None:
    for m in nets:
        _draw(probes.feature_maps(m, layer, x, k), probes.residual_decomposition(m, block, x))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=30)
    parser.add_argument("--profile", action="store_true", help="cProfile of the one-pass views, top 15")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = ResNetConfig("cifar", 110, width=32)
    nets = [build_resnet(config).eval(), build_resnet(config.twin()).eval()]
    layers, blocks = probes.feature_layers(nets[0]), [n for n, _b in nets[0].blocks()]
    rng = random.Random(0)
    views = [
        (
            rng.choice(layers),
            rng.choice(blocks),
            rng.choice([8, 16]),
            torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(i)),
        )
        for i in range(args.views)
    ]
    fns = {"one pass": one_pass, "two passes": two_passes}
    for fn in fns.values():
        fn(nets, *views[0])  # warm-up
    cpu = dict.fromkeys(fns, 0.0)
    for view in views:
        for name, fn in fns.items():
            t0 = time.process_time()
            fn(nets, *view)
            cpu[name] += time.process_time() - t0
    for name, total in cpu.items():
        print(f"{name:>10}: {total / len(views):.4f} CPU-s per view (two networks, probes + figure specs)")
    print(f"ratio one/two passes: {cpu['one pass'] / cpu['two passes']:.2f}")
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for view in views:
            one_pass(nets, *view)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(15)


if __name__ == "__main__":
    main()
