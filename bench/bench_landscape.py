"""Loss-landscape speed: grid points per second of ``loss_surface`` against the floor.

The floor is plain batched evaluation doing the same image-forwards: the network at fixed weights, eval
mode, ``inference_mode``, batches of 256, once per grid point (and once for the centre). Our surface adds
setting the weights per point on a copy. Rounds alternate ours and the floor so that other load on a shared
machine hits both alike; the median round of each is compared. Each round times ``--points`` points of
the real ``loss_surface`` (stopped by its stop flag), and the time of a whole grid is projected from them
(``--full`` times the whole grid instead). On a machine shared with other work, wall time says little, so
the process's CPU time is measured too: with ``--threads 1`` it is what one idle core would take. Also measured, for the record: several points per pass with
``torch.func.vmap`` over stacked weights, and bfloat16 autocast (not used: its losses differ).

Goals on 2 cores: ResNet-20 at 21x21 on 256 images <= 60 s; ResNet-56 <= 180 s; ratio to the floor >= 0.8.

    .venv/bin/python -m bench.bench_landscape [--grid 21] [--images 256] [--points 8] [--rounds 3] [--threads N]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

from explorer.experiments.landscape import _Evaluator, loss_surface, random_directions
from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet

RUN = Path(__file__).resolve().parents[1] / "assets" / "runs" / "degradation"
GOALS = {20: 60.0, 56: 180.0}


def network(depth: int) -> torch.nn.Module:
    """The degradation run's trained ResNet-<depth> if it ships, else a fresh one."""
    model = build_resnet(ResNetConfig(depth=depth))
    path = RUN / "checkpoints" / f"resnet-{depth}.pt"
    if path.is_file():
        from explorer.training.runs import load_checkpoint

        model.load_state_dict(load_checkpoint(path))
    return model.eval()


def subset(images: int) -> tuple[torch.Tensor, torch.Tensor]:
    from explorer.data.datasets import load_dataset

    data = load_dataset("shapes", "train", n=max(images, 1000), size=24)
    return data.batch(torch.arange(images))


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(t: tuple[float, float]) -> tuple[float, float]:
    """(wall, CPU) seconds since ``clock()``."""
    return time.perf_counter() - t[0], time.process_time() - t[1]


def ours(model, x, y, grid: int, points: int, precision: str = "float32") -> tuple[float, float]:
    """(wall, CPU) seconds for ``points`` grid points of the real loss_surface (setup included)."""
    stop = threading.Event()
    t = clock()
    done = lambda p: p.done >= points and stop.set()  # noqa: E731
    loss_surface(model, x, y, grid=grid, progress=done, stop=stop, precision=precision)
    return since(t)


@torch.inference_mode()
def floor(model, x, y, forwards: int, channels_last: bool = False) -> tuple[float, float]:
    """(wall, CPU) seconds for ``forwards`` evaluations of the subset at fixed weights."""
    if channels_last:
        model = copy.deepcopy(model).to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    t = clock()
    for _ in range(forwards):
        for i in range(0, len(x), 256):
            F.cross_entropy(model(x[i : i + 256]), y[i : i + 256], reduction="sum").item()
    return since(t)


@torch.inference_mode()
def stacked(model, x, y, points: int, per_pass: int = 4) -> float:
    """CPU seconds for ``points`` points evaluated ``per_pass`` at a time with vmap over stacked weights."""
    d1, d2 = random_directions(model, 0)
    theta = {k: v.detach() for k, v in model.named_parameters()}
    buffers = dict(model.named_buffers())
    call = vmap(lambda p, xb: functional_call(model, (p, buffers), (xb,)), in_dims=(0, None))
    t = clock()
    for start in range(0, points, per_pass):
        coefs = torch.linspace(-1, 1, per_pass)
        params = {k: theta[k] + coefs.view(-1, *[1] * theta[k].dim()) * (d1[k] + d2[k]) for k in theta}
        for i in range(0, len(x), 256):
            out = call(params, x[i : i + 256])  # (P, B, classes)
            F.cross_entropy(out.flatten(0, 1), y[i : i + 256].repeat(per_pass), reduction="none").view(per_pass, -1)
    return since(t)[1]


def bf16(model, x, y, points: int) -> tuple[float, float]:
    """(CPU seconds for ``points`` points under bfloat16 autocast, |loss difference| at the centre)."""
    exact = _Evaluator(model, x, y).loss()
    work = _Evaluator(model, x, y, precision="bfloat16")
    work.loss()  # warm-up
    t = clock()
    for _ in range(points):
        approx = work.loss()
    return since(t)[1], abs(approx - exact)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depths", type=int, nargs="+", default=[20, 56])
    ap.add_argument("--grid", type=int, default=21)
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--points", type=int, default=8, help="grid points timed per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--full", action="store_true", help="time the whole grid once (slow)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"os.cpu_count()={os.cpu_count()} torch threads={torch.get_num_threads()} load={os.getloadavg()[0]:.2f}")
    x, y = subset(args.images)
    total = args.grid**2
    for depth in args.depths:
        model = network(depth)
        k = total if args.full else args.points
        ours(model, x, y, args.grid, 1)  # warm-up
        rounds = {"ours": [], "floor": [], "floor_cl": []}
        for _ in range(1 if args.full else args.rounds):
            rounds["ours"].append(ours(model, x, y, args.grid, k))
            rounds["floor"].append(floor(model, x, y, k + 1))  # the centre and k points
            rounds["floor_cl"].append(floor(model, x, y, k + 1, channels_last=True))
        wall = {n: statistics.median(w for w, _ in r) for n, r in rounds.items()}
        cpu = {n: statistics.median(c for _, c in r) for n, r in rounds.items()}
        per_point = cpu["ours"] / (k + 1)
        how = "measured" if args.full else f"projected from {k} points"
        print(
            f"ResNet-{depth} {args.grid}x{args.grid} on {args.images} images, float32: {1 / per_point:.2f} points per "
            f"CPU-second; the grid takes {per_point * (total + 1):.0f} CPU-s ({how}), "
            f"{per_point * (total + 1) / 2:.0f} s on 2 idle cores if it halves (goal <= {GOALS.get(depth, 0):.0f} s); "
            f"wall here {wall['ours'] / (k + 1) * (total + 1):.0f} s"
        )
        print(
            f"  ratio to the floor (CPU time) {cpu['floor'] / cpu['ours']:.2f} (plain NCHW eval), "
            f"{cpu['floor_cl'] / cpu['ours']:.2f} (channels_last eval); wall {wall['floor'] / wall['ours']:.2f} "
            "(goal >= 0.8)"
        )
        s = stacked(model, x, y, 4)
        print(f"  vmap, 4 points per pass: {4 / s:.2f} points per CPU-second ({(4 / s) * per_point:.2f}x ours)")
        b, diff = bf16(model, x, y, 3)
        print(
            f"  bfloat16 autocast: {3 / b:.2f} points per CPU-second ({(3 / b) * per_point:.2f}x ours), "
            f"grid {b / 3 * (total + 1):.0f} CPU-s; centre loss off by {diff:.4f}"
        )


if __name__ == "__main__":
    main()
