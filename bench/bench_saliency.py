"""Saliency-benchmark speed: every method and metric on ResNet-56, against the floor of its curves.

Ours is ``experiments.saliency.score_chunk`` over the images, chunk by chunk, as ``run_saliency`` runs it: the
five methods' maps (batched captum calls), the two baseline maps, the pointing game, the mass in the outline,
and the deletion and insertion curves of all seven maps. The floor is the forward passes those curves need and
nothing else: per image the two shared endpoints plus two curves x (steps - 1) points for each of seven maps,
as plain batches of 512 in the same bfloat16 autocast. ratio = ours / floor (>= 1; the rest is the maps).

On a machine shared with other work, wall time says little: the process's CPU time is printed too; with
``--threads 1`` it is what one idle core would take, and half of it what two would.

Goal (issue 18): 256 images on ResNet-56, every method and metric, <= 180 s on 2 cores.

    .venv/bin/python -m bench.bench_saliency [--images 256] [--depth 56] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from explorer.data.datasets import load_dataset
from explorer.experiments.saliency import CHUNK, CURVE_STEPS, score_chunk
from explorer.experiments.saliency_maps import METHOD_KEYS
from explorer.experiments.saliency_metrics import curve_steps
from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet

ROOT = Path(__file__).resolve().parents[1] / "assets" / "runs"
GOAL_S = 180.0


def network(depth: int) -> torch.nn.Module:
    """The shipped shapes run's trained ResNet-<depth> if it is there, else a fresh one (same cost)."""
    model = build_resnet(ResNetConfig(depth=depth))
    path = ROOT / "shapes" / "checkpoints" / f"resnet-{depth}.pt"
    if path.is_file():
        from explorer.training.runs import load_checkpoint

        model.load_state_dict(load_checkpoint(path))
    return model.eval()


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(t: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - t[0], time.process_time() - t[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--depth", type=int, default=56)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = network(args.depth)
    ds = load_dataset("shapes", "test", n=args.images, size=24, seed=0)
    x, y = ds.batch(torch.arange(len(ds)))
    masks = ds.masks.numpy()
    rng = np.random.default_rng(0)

    t = clock()
    for lo in range(0, len(ds), CHUNK):
        score_chunk(model, x[lo : lo + CHUNK], y[lo : lo + CHUNK], masks[lo : lo + CHUNK], rng)
    ours = since(t)

    _, n = curve_steps(masks[0].size, CURVE_STEPS)
    forwards = len(ds) * (2 + 2 * len(METHOD_KEYS) * (n - 1))
    batch = torch.cat([x] * (512 // len(x) + 1))[:512]
    t = clock()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        for lo in range(0, forwards, 512):
            model(batch[: min(512, forwards - lo)])
    floor = since(t)

    print(f"ResNet-{args.depth}, {len(ds)} images, {torch.get_num_threads()} threads, {forwards} curve forwards")
    print(f"ours : {ours[0]:7.1f} s wall  {ours[1]:7.1f} s CPU")
    print(f"floor: {floor[0]:7.1f} s wall  {floor[1]:7.1f} s CPU")
    print(f"ratio ours / floor: {ours[0] / floor[0]:.2f} wall, {ours[1] / floor[1]:.2f} CPU")
    scale = 256 / len(ds)
    print(f"256 images projected: {ours[0] * scale:.0f} s wall (goal <= {GOAL_S:.0f} s on 2 cores), "
          f"{ours[1] * scale:.0f} CPU-s")  # fmt: skip


if __name__ == "__main__":
    main()
