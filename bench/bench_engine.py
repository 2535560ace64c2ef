"""The job engine against training in this process: images/s ratio, start-up and 30 identical presses.

Each round trains the "quick" preset's twins (``--tiny``: ResNet-8 twins, where the engine's per-step cost
weighs most) in this process, as the CLI does without a scheduler, then the same job on the embedded
LocalCluster, as the app does; rounds interleave, so machine load hits both alike. Prints each round's
engine/in-process images/s ratio and their median. Then N sessions press Start on one identical job at
once from N threads and the number of training jobs that really started is printed (goal: 1).

    .venv/bin/python -m bench.bench_engine [--steps 20] [--rounds 3] [--sessions 30] [--tiny]

``--jobs N`` measures instead what N distinct short jobs (``count_task``, no steps) leave on a scheduler started
with Dask's own command: its RSS, its count of explorer's Variables (the slots), Events and metadata keys, and of
its event topics, before and after (read with ``run_on_scheduler``, which only the bench and the tests use).

    .venv/bin/python -m bench.bench_engine --jobs 1000
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from explorer.engine import client as engine_client
from explorer.engine import jobs as engine
from explorer.engine import worker as engine_worker
from explorer.tasks import training as tasks
from explorer.training.presets import PRESET_MODELS, PRESETS

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3, help="in-process and engine runs, interleaved")
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--train-size", type=int, default=1000)
    ap.add_argument("--tiny", action="store_true", help="ResNet-8 twins at width 8 (a floor for the engine's overhead)")
    ap.add_argument("--jobs", type=int, default=0, help="measure what N short jobs leave on the scheduler instead")
    args = ap.parse_args()
    if args.jobs:
        return scheduler_growth(args.jobs)
    import torch

    torch.set_num_threads(engine_worker.torch_threads())
    root = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    config = replace(PRESETS["quick"], steps=args.steps, eval_every=0, train_size=args.train_size)
    nets = PRESET_MODELS["quick"]
    if args.tiny:
        nets = tuple(replace(c, depth=8, width=8) for c in nets)
    t0 = time.perf_counter()
    engine.client()
    startup = time.perf_counter() - t0
    ratios = []
    for r in range(args.rounds):
        cfg = replace(config, seed=100 + r)  # a new job each round (the key hashes the seed)
        inproc = tasks.training_job("inproc", nets, cfg, root, out=root / f"inproc{r}", checkpoint_every=0)
        local = tasks.train_task(inproc.spec, engine_worker.LocalContext())["history"]["images_per_s"]
        job = tasks.training_job("engine", nets, cfg, root, checkpoint_every=0)
        engine.submit(job)
        engine.wait(job.key, poll_s=0.5)
        remote = engine.result(job.key)["history"]["images_per_s"]
        ratios.append(remote / local)
        print(f"round {r}: in-process {local:7.1f} images/s, engine {remote:7.1f} images/s, ratio {ratios[-1]:.2f}")
    started = engine.job_count("train")
    job2 = tasks.training_job("class", nets, replace(config, seed=1, steps=2), root, checkpoint_every=0)
    gate = threading.Barrier(args.sessions)

    def press():
        gate.wait()
        engine.submit(job2)

    threads = [threading.Thread(target=press) for _ in range(args.sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.wait(job2.key, poll_s=0.2)
    print(f"engine / in-process images/s, median of {args.rounds}: {statistics.median(ratios):.2f}")
    print(f"engine start-up {startup:.1f} s (torch threads per job: {engine_worker.torch_threads()})")
    print(f"{args.sessions} identical Start presses -> {engine.job_count('train') - started} training job(s)")
    engine_client.close()


def scheduler_growth(n: int) -> None:
    """N distinct short jobs on a ``dask scheduler`` and one ``dask worker``: what the scheduler keeps."""
    import psutil

    from explorer.tasks.count import count_job
    from tests.engine.cluster import Cluster
    from tests.engine.test_engine import scheduler_state

    cluster = Cluster(Path(tempfile.mkdtemp(prefix="bench-engine-")))
    try:
        cluster.add_worker()
        os.environ[engine_client.SCHEDULER_ENV] = cluster.address
        cluster.wait_for_workers(1)
        c, scheduler = engine.client(), psutil.Process(cluster.scheduler.pid)

        def run(seeds) -> float:
            t0 = time.perf_counter()
            jobs = [count_job(0, seed=seed) for seed in seeds]
            for job in jobs:
                engine.submit(job)
            for job in jobs:
                engine.wait(job.key, poll_s=0.05)
                engine.release(job.key)
            return time.perf_counter() - t0

        def report(when: str) -> None:
            time.sleep(2)  # the scheduler forgets released executions a moment later
            counts = {k: len(v) for k, v in scheduler_state(c).items()}
            print(f"{when}: scheduler RSS {scheduler.memory_info().rss / 2**20:.1f} MiB, explorer's {counts}")

        run(range(10**6, 10**6 + 100))  # warm-up: first-time allocations
        report("after 100 warm-up jobs")
        took = run(range(n))
        report(f"after {n} more jobs ({took:.1f} s)")
    finally:
        engine_client.close()
        cluster.close()


if __name__ == "__main__":
    main()
