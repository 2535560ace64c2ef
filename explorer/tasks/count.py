"""A job for tests and benches of the engine: counts to ``n``, a point and a report per step, stoppable.

Workers import it by name like any job function (``explorer.tasks.count.count_task``).
"""

from __future__ import annotations

import time

from explorer.engine import records as engine_records


def count_task(spec: dict, ctx) -> dict:
    """``spec``: ``n`` steps of ``sleep`` seconds each; ``fail_at``: raise ValueError at that step."""
    n, sleep = int(spec["n"]), float(spec.get("sleep", 0.0))
    step = 0
    ctx.report(force=True, phase="counting", step=0, total=n)
    for step in range(1, n + 1):
        if ctx.stop.is_set():
            step -= 1
            break
        if sleep:
            time.sleep(sleep)
        if spec.get("fail_at") == step:
            raise ValueError(f"asked to fail at step {step}")
        ctx.add_points([[step, step * step]])
        ctx.report(force=step == n, step=step, total=n, images_per_s=1.0 / sleep if sleep else 0.0)
    return {"counted": step}


def count_job(
    n: int, sleep: float = 0.0, seed: int = 0, fail_at: int | None = None, title: str = "count"
) -> engine_records.Job:
    """A Job of ``count_task``; ``seed`` only changes its identity (a different job with the same work)."""
    spec = {"title": title, "n": n, "sleep": sleep, "fail_at": fail_at}
    return engine_records.make_job(
        "count", count_task, spec, {"n": n, "sleep": sleep, "seed": seed, "fail_at": fail_at}
    )
