"""The job engine against training in this process: images/s ratio, start-up and join costs.

Trains the "quick" preset's twins (Plain-20 and ResNet-20) for a few steps in this process (as the CLI does
without a scheduler), then the same job on the embedded LocalCluster (as the app does), and prints the
engine's images/s as a ratio of the in-process figure, measured in the same run. Then N sessions submit
one identical job at once from N threads and the engine's job count is printed (goal: 1).

    .venv/bin/python -m bench.bench_engine [--steps 30] [--sessions 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer import engine, tasks  # noqa: E402
from explorer.training import PRESET_MODELS, PRESETS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--train-size", type=int, default=1000)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(engine.torch_threads())
    root = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    config = replace(PRESETS["quick"], steps=args.steps, eval_every=0, train_size=args.train_size)
    nets = PRESET_MODELS["quick"]
    _, spec = tasks.training_job("inproc", nets, config, root, out=root / "inproc", checkpoint_every=0)
    local = tasks.train_task(spec, engine.LocalContext())["history"]["images_per_s"]
    print(f"in-process training         {local:8.1f} images/s (torch threads {engine.torch_threads()})", flush=True)

    t0 = time.perf_counter()
    engine.client()
    startup = time.perf_counter() - t0
    key, spec = tasks.training_job("engine", nets, config, root, checkpoint_every=0)
    t0 = time.perf_counter()
    engine.submit("train", key, spec, "engine")
    st = engine.wait(key, poll_s=0.2)
    wall = time.perf_counter() - t0
    remote = engine.result(key)["history"]["images_per_s"]

    config2 = replace(config, seed=1)
    key2, spec2 = tasks.training_job("class", nets, config2, root, checkpoint_every=0)
    gate = threading.Barrier(args.sessions)

    def press():
        gate.wait()
        engine.submit("train", key2, spec2, "class")

    threads = [threading.Thread(target=press) for _ in range(args.sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.wait(key2, poll_s=0.2)
    print(f"engine job (LocalCluster)   {remote:8.1f} images/s  ratio {remote / local:.2f}  ({st.state})")
    print(f"engine start-up             {startup:8.1f} s;  job wall time {wall:.1f} s for {args.steps} steps")
    print(f"{args.sessions} identical Start presses -> {engine.job_count('train') - 1} training job(s)")
    engine.close()


if __name__ == "__main__":
    main()
