"""The gradient by path length (explorer.interpret.paths): seconds for every length of a ResNet at initialisation, with
enough measurements that the standard error is under 10% of the mean at the lengths holding 90% of the gradient.

``path_lengths(..., target_se=0.1)``: ``--pilot`` measurements of every length, then more of the lengths in the
effective range until each one's standard error is under 10% of its mean (``--uniform``: instead, as many of every
length as the worst of them needs, from a separate pilot: what sampling every length alike costs). The floor is one
backward pass per measurement: the seconds of ordinary batched backward passes (no gates) through the same network,
per image, times the measurements made; the ratio to it is what the gates, the masks and the forward passes add. BN statistics from
one shapes batch (``gradients.calibrate_bn``), 2 threads, built-in shapes of ``--size`` pixels.

    .venv/bin/python -m bench.bench_paths              # ResNet-56
    .venv/bin/python -m bench.bench_paths --depth 110
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from explorer.interpret.gradients import calibrate_bn, shapes_batch
from explorer.interpret.paths import PathProbe, path_lengths
from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet

TARGET = 0.10  # standard error / mean


def worst_se(result) -> float:
    lo, hi = result.effective_range
    return max(result.se[k] / result.mean[k] for k in range(lo, hi + 1))


def floor_seconds(model, x, y, batch: int, measurements: int) -> tuple[float, float]:
    """(wall, CPU) seconds of ``measurements`` ordinary backward passes, one per image, batched as the measurement is."""
    probe = PathProbe(model, x[:batch], y[:batch])
    probe.gradient(None)  # warm up
    t0, c0, reps = time.perf_counter(), time.process_time(), 5
    for _ in range(reps):
        probe.gradient(None)
    scale = measurements / (reps * batch)
    return (time.perf_counter() - t0) * scale, (time.process_time() - c0) * scale


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=56)
    ap.add_argument("--size", type=int, default=24, help="image side (the degradation run's shapes are 24 px)")
    ap.add_argument("--pilot", type=int, default=16)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--uniform", action="store_true", help="every length as often as the worst one needs")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x, y = shapes_batch(128, size=args.size, seed=0)
    model = calibrate_bn(build_resnet(ResNetConfig("cifar", args.depth), seed=0), x)
    kwargs = {"samples": args.pilot, "target_se": TARGET}
    if args.uniform:
        pilot = path_lengths(model, x, y, samples=args.pilot, seed=1, batch=args.batch)
        lo, hi = pilot.effective_range
        cv = max(pilot.se[k] / pilot.mean[k] * math.sqrt(pilot.count[k]) for k in range(lo, hi + 1))
        kwargs = {"samples": max(args.pilot, math.ceil((cv / TARGET) ** 2))}
        print(f"uniform: pilot range {lo}-{hi}, largest cv {cv:.2f} -> {kwargs['samples']} of every length")
    before = floor_seconds(model, x, y, args.batch, 1)  # per measurement
    t0, c0 = time.perf_counter(), time.process_time()
    result = path_lengths(model, x, y, seed=0, batch=args.batch, **kwargs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n, made = result.blocks, sum(result.count)
    print(f"ResNet-{args.depth}, {n} blocks, {args.size} px, {args.threads} threads: {made} measurements "
          f"(per length {min(result.count)} to {max(result.count)})")  # fmt: skip
    after = floor_seconds(model, x, y, args.batch, 1)
    floor_wall = made * (before[0] + after[0]) / 2  # around the run: a shared machine
    floor_cpu = made * (before[1] + after[1]) / 2
    lo, hi = result.effective_range
    print(f"effective range {lo}-{hi} of {n}; largest SE/mean there {worst_se(result):.3f}")
    print(f"wall {wall:.1f} s, CPU {cpu:.1f} s; floor (one backward pass per measurement) wall {floor_wall:.1f} s, "
          f"CPU {floor_cpu:.1f} s; ratio {wall / floor_wall:.2f} (wall), {cpu / floor_cpu:.2f} (CPU)")  # fmt: skip


if __name__ == "__main__":
    main()
