"""Grad-CAM latency divided by one forward + backward pass of the same model (the floor); goal <= 1.3x.

    python -m bench.bench_gradcam            # ResNet-50 at 224x224 and ResNet-20 at 32x32, random init
    python -m bench.bench_gradcam --methods  # also one timing per attribution method

The floor is what Grad-CAM cannot avoid: a forward pass and a backward pass of the target logit (here with
respect to every parameter, as in training). Grad-CAM freezes the parameters, so its backward stops at the
target layer and can beat the floor. Medians of several repeats after warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from explorer.interpret.gradcam import grad_cam
from explorer.interpret.methods import METHODS
from explorer.models.resnet import build_resnet

CASES = (("ResNet-50", "imagenet", 50, 224), ("ResNet-20", "cifar", 20, 32))


def median_time(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--methods", action="store_true", help="also time every method in METHODS once")
    args = parser.parse_args()
    for label, family, depth, size in CASES:
        model = build_resnet(family=family, depth=depth).eval()
        x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))

        def floor(model=model, x=x) -> None:
            logits = model(x)
            logits[0, logits[0].argmax()].backward()
            model.zero_grad(set_to_none=True)

        t_floor = median_time(floor, args.repeats)
        t_cam = median_time(lambda model=model, x=x: grad_cam(model, x), args.repeats)
        ratio = t_cam / t_floor
        verdict = "ok" if ratio <= 1.3 else "over goal"
        print(
            f"{label} {size}x{size}: Grad-CAM {1e3 * t_cam:.1f} ms, forward+backward {1e3 * t_floor:.1f} ms, "
            f"ratio {ratio:.2f}x (goal <= 1.3x: {verdict})"
        )
        if args.methods:
            for name, fn in METHODS.items():
                t = time.perf_counter()
                fn(model, x, None, None)
                print(f"  {name:22s} {time.perf_counter() - t:7.2f} s")


if __name__ == "__main__":
    main()
