"""All feature maps of one image (one hooked forward pass) divided by one plain forward pass; goal <= 1.2x.

The goal is for the stem and every block (what the Inside page offers); every leaf module is shown beside.

.venv/bin/python -m bench.bench_inside --threads 1   # ResNet-20 at 32x32 and ResNet-50 at 224x224
"""

from __future__ import annotations

import argparse
import time

import torch

from explorer.interpret.probes import all_feature_maps, feature_layers
from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet

GOAL = 1.2


def _best(fns: dict, repeats: int) -> dict[str, float]:
    """Best wall-clock time of each function, run in interleaved rounds after a warm-up, so that load from
    other processes hits all of them alike."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in times.items()}


def bench(config: ResNetConfig, size: int, repeats: int) -> None:
    model = build_resnet(config).eval()
    x = torch.randn(1, config.in_channels, size, size, generator=torch.Generator().manual_seed(0))

    @torch.no_grad()
    def forward():
        model(x)

    every = [n for n, m in model.named_modules() if n and len(list(m.children())) == 0 and n != "fc"]
    t = _best(
        {
            "forward": forward,
            "blocks": lambda: all_feature_maps(model, x),
            "every": lambda: all_feature_maps(model, x, every),
        },
        repeats,
    )
    floor, blocks, leaves = t["forward"], t["blocks"], t["every"]
    print(f"{config.name} at {size}x{size}: forward {floor * 1e3:.1f} ms")
    n = len(feature_layers(model)) - 1
    print(f"  stem + {n} blocks:  {blocks * 1e3:.1f} ms  ratio {blocks / floor:.2f}x  (goal <= {GOAL}x)")
    print(f"  every layer ({len(every)} modules): {leaves * 1e3:.1f} ms  ratio {leaves / floor:.2f}x  (no goal)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    bench(ResNetConfig("cifar", 20), 32, args.repeats)
    bench(ResNetConfig("imagenet", 50), 224, max(3, args.repeats // 2))


if __name__ == "__main__":
    main()
