"""What the job engine's workers run for the gradient by path length (Veit et al. 2016, Fig. 6) of a saved run.

``paths_job`` returns an ``engine.records.Job`` as ``explorer.tasks.training`` describes: the function to run, its spec and
its identity (the run by its folder and state, the networks and options), so identical requests share one job.
"""

from __future__ import annotations

from pathlib import Path

from explorer.engine.records import Job, make_job
from explorer.i18n import N_, message
from explorer.training import runs

PATHS_OF = N_("{name} ({i} of {n})")


def paths_job(
    run_dir: str | Path, networks: list[str], samples: int = 32, seed: int = 0, target_se: float | None = None
) -> Job:
    """The gradient by path length of some residual networks of a saved run, one after another (``samples`` of
    every length, then more until ``target_se``: ``interpret.paths.path_lengths``)."""
    run = runs.load_run(run_dir)
    what = {"run": Path(run_dir).resolve().name, "step": run.history.step, "updated": run.meta.get("updated")}
    options = {"networks": list(networks), "samples": samples, "seed": seed}
    if target_se is not None:
        options["target_se"] = target_se
    spec = {"title": "gradient by path length", "run_dir": str(Path(run_dir).resolve()), **options}
    return make_job("paths", paths_task, spec, {**what, **options})


def paths_task(spec: dict, ctx) -> list:
    """One ``PathResult`` per network, in order; a stop ends the job between backward passes (finished networks
    come back)."""
    from explorer.experiments.path_lengths import run_paths

    out, names = [], spec["networks"]
    for i, name in enumerate(names):
        if ctx.stop.is_set():
            break

        def progress(done, total, i=i, name=name) -> None:
            phase = message(PATHS_OF, name=name, i=i + 1, n=len(names))
            ctx.report(phase=phase, step=i * total + done, total=len(names) * total)

        result = run_paths(
            spec["run_dir"], name, spec["samples"], spec["seed"], progress=progress, stop=ctx.stop,
            target_se=spec.get("target_se"),
        )  # fmt: skip
        if result is not None:
            out.append(result)
    return out
