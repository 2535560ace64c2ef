"""What a worker runs for a class experiment: one student's plain-and-residual pair, trained in lock-step as ONE job
(``explorer.tasks.training.train_task``, checkpoints and resuming included), and its result recorded in the
experiment (``explorer.experiments.class_experiment``).

The job's identity hashes the experiment's code and the training job's identity (the pair, the recipe, the seed),
so two students given the same depth and seed, or one student pressing twice, join one job. The worker records the
result when the experiment's folder is on its machine (``make class``); the page or the CLI that follows the job
records it too, from the job's result, when the worker is another machine's (a pair is recorded once).
"""

from __future__ import annotations

from pathlib import Path

from explorer.engine.records import Job, identity
from explorer.experiments import class_experiment as ce
from explorer.tasks.training import train_task, training_job
from explorer.training.history import History

KIND = "class"


def contribution_job(exp: ce.Experiment, depth: int, seed: int, checkpoint_every: int = 50) -> Job:
    """The job that trains the pair (``depth``, ``seed``) of ``exp``; ValueError for a depth it does not measure."""
    ce.check_pair(exp, depth)
    title = f"{exp.code} d{int(depth)} s{int(seed)}"
    train = training_job(
        title,
        ce.pair_configs(depth),
        exp.train_config(seed),
        exp.path / "pairs",
        checkpoint_every=checkpoint_every,
    )
    spec = {**train.spec, "experiment": str(exp.path.resolve()), "depth": int(depth), "seed": int(seed)}
    return Job(KIND, contribution_task, spec, identity(KIND, {"code": exp.code, "train": train.id}), title)


def contribution_task(spec: dict, ctx) -> dict:
    """Train the pair (``train_task``), record its result in the experiment if its folder is here, and return the
    run's result with ``class_result``: the pair's numbers (None for a pair stopped before its end)."""
    out = train_task(spec, ctx)
    out["class_result"] = None
    history = History.from_dict(out["history"])
    if history.finished and history.stopped_reason != "stopped":
        result = ce.pair_result(spec["depth"], spec["seed"], out["history"])
        out["class_result"] = result
        if (Path(spec["experiment"]) / "experiment.json").is_file():
            ce.record_result(spec["experiment"], result)
    return out


def record_from(root: str | Path, code: str, out: dict | None) -> bool:
    """Record a finished contribution job's result (``contribution_task``'s return value) in experiment ``code``
    under ``root``: for a worker on another machine. False when there is nothing to record."""
    if not out or out.get("class_result") is None:
        return False
    ce.record_result(root, out["class_result"], code=code)
    return True
