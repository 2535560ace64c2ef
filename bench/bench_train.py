"""Engine overhead: lock-step training throughput with all recording on / a bare PyTorch loop's.

Same network (ResNet-20), same optimiser, same batches. Rounds alternate engine and bare loop so that
other load on a shared machine hits both alike; the median round of each is compared. Goal: >= 0.95.

    .venv/bin/python bench/bench_train.py [--steps 10] [--rounds 5] [--batch-size 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import torch
import torch.nn.functional as F

from explorer.data.datasets import load_dataset
from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet
from explorer.training.config import TrainConfig
from explorer.training.history import History
from explorer.training.lockstep import batch_indices, make_optimizer, train_lockstep


def bare_loop(model, opt, data, batches, steps: int) -> float:
    """Forward, loss, backward, step: nothing else. Returns seconds."""
    t = time.perf_counter()
    for _ in range(steps):
        x, y = data.batch(next(batches))
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10, help="steps per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--record-every", type=int, default=1, help="block responses every N steps")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"os.cpu_count()={os.cpu_count()} torch threads={torch.get_num_threads()} load={os.getloadavg()[0]:.2f}")
    data = load_dataset("shapes", "train", n=2_000)
    # record_every=1: block responses every step as well, the heaviest recording there is
    config = TrainConfig(
        steps=args.steps, batch_size=args.batch_size, record_every=args.record_every, eval_every=0, warmup=0
    )
    engine_model = build_resnet(ResNetConfig(depth=args.depth))
    bare_model = copy.deepcopy(engine_model)
    bare_opt = make_optimizer(bare_model, config)
    batches = batch_indices(len(data), args.batch_size, seed=1)
    history, optimizers = History(), {}
    train_lockstep({"net": engine_model}, data, TrainConfig(**{**config.to_dict(), "steps": 3}), history=history,
                   optimizers=optimizers)  # fmt: skip
    bare_loop(bare_model, bare_opt, data, batches, 3)  # warm-up both
    engine, bare = [], []
    for _ in range(args.rounds):
        t = time.perf_counter()
        train_lockstep({"net": engine_model}, data, config, history=history, optimizers=optimizers)
        engine.append(time.perf_counter() - t)
        bare.append(bare_loop(bare_model, bare_opt, data, batches, args.steps))
    n = args.steps * args.batch_size
    e, b = n / statistics.median(engine), n / statistics.median(bare)
    print(f"ResNet-{args.depth}, batch {args.batch_size}, {args.rounds} rounds x {args.steps} steps")
    print(f"engine (loss, acc, lr, grad norms, block responses every step): {e:.1f} images/s")
    print(f"bare loop (forward, loss, backward, step):                      {b:.1f} images/s")
    print(f"ratio engine / bare: {e / b:.3f}  (goal >= 0.95)")


if __name__ == "__main__":
    main()
