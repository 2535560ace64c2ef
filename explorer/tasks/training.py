"""What the job engine's workers run to train: lock-step training of new networks and more steps for a saved run
(the experiments' jobs are ``explorer.tasks.experiments``).

Each ``*_job`` function returns an ``engine.records.Job``: the function to run, ``fn(spec, ctx)``, its ``spec`` (a
plain dict of what to compute, pickled to the worker) and its identity (a hash of what it computes, so identical
requests share one job). ``ctx`` is an ``engine.worker.JobContext`` on a worker (``LocalContext`` in-process):
``report(**fields)``, ``add_points(points)`` and ``stop.is_set()``. Phases and messages built here cross processes
as ``i18n.message`` pairs, shown in each viewer's language. The CLI and the pages call the same functions.
"""

from __future__ import annotations

import bisect
import hashlib
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from explorer.engine.records import Job, identity, make_job
from explorer.models.config import ResNetConfig, replace_config
from explorer.progress import Progress
from explorer.training import runs
from explorer.training.config import TrainConfig
from explorer.training.history import History, ModelHistory
from explorer.training.lockstep import build_models, load_train_data, train_lockstep

CHECKPOINT_EVERY = 50  # steps between checkpoints of a training job
UPLOAD = "upload"  # TrainConfig.dataset of a job whose images come as zip bytes in the spec


def training_job(
    title: str,
    configs: list[ResNetConfig] | tuple[ResNetConfig, ...],
    train: TrainConfig,
    runs_root: str | Path,
    upload: bytes | None = None,
    upload_name: str | None = None,
    data_root: str | None = None,
    download: bool = False,
    out: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    report_every_step: bool = False,
    device: str = "auto",
) -> Job:
    """A lock-step training job; its run folder is ``runs.job_run_dir(runs_root, title, id)`` unless ``out``.

    The identity hashes the networks, the training config (dataset, seed and steps included) and an upload's bytes;
    a job finds its folder's checkpoint and goes on from it (``runs.resume``) when the folder holds this run.
    """
    if not configs:
        raise ValueError("choose at least one network to train")
    if upload is not None:
        train = replace(train, dataset=UPLOAD)
    digest = hashlib.sha256(upload).hexdigest() if upload is not None else None
    jid = identity("train", {"configs": list(configs), "train": train.to_dict(), "upload": digest})
    run_dir = Path(out) if out is not None else runs.job_run_dir(runs_root, title, jid)
    spec = {
        "title": title,
        "configs": list(configs),
        "train": train.to_dict(),
        "upload": upload,
        "upload_name": upload_name,  # the user's name for it, in messages (not in the identity)
        "data_root": data_root,
        "download": download,
        "run_dir": str(Path(run_dir).resolve()),
        "checkpoint_every": checkpoint_every,
        "report_every_step": report_every_step,  # a snapshot after every step, not every REPORT_S seconds
        "device": str(device),  # resolved where the job runs ("auto": the worker's GPU if it has one)
    }
    return Job("train", train_task, spec, jid, title)


def extend_job(run_dir: str | Path, steps: int, data_root: str | None = None, device: str = "auto") -> Job:
    """``steps`` more lock-steps for a saved run, on a fresh schedule of that length (optimizer state kept)."""
    run = runs.load_run(run_dir)
    train = replace(run.train, steps=steps)
    spec = {
        "title": run.name,
        "configs": list(run.model_configs.values()),
        "train": train.to_dict(),
        "extend": True,
        "data_root": data_root,
        "run_dir": str(Path(run_dir).resolve()),
        "checkpoint_every": 0,
        "device": str(device),
    }
    what = {"run": str(Path(run_dir).resolve()), "step": run.history.step, "steps": steps}
    return make_job("extend", train_task, spec, what, run.name)


def history_points(history: History, sent: dict[str, tuple[int, int]] | None = None) -> list:
    """The steps and held-out evaluations of ``history`` not yet in ``sent`` (name -> (steps, evaluations) sent),
    as points: ``("s", name, step, loss, accuracy, lr)`` and ``("e", name, step, accuracy, loss)``."""
    sent = {} if sent is None else sent
    out = []
    for name, m in list(history.models.items()):
        n, e = len(m.step), len(m.eval_step)  # align on step: the lists grow while training runs
        s0, e0 = sent.get(name, (0, 0))
        out += [("s", name, m.step[i], m.loss[i], m.accuracy[i], m.lr[i]) for i in range(s0, n)]
        out += [("e", name, m.eval_step[i], m.eval_accuracy[i], m.eval_loss[i]) for i in range(e0, e)]
        sent[name] = (n, e)
    return out


def live_history(snapshot: dict, points: list) -> History:
    """A running training job's curves, from its snapshot and its points (``engine.points``).

    A point at a step the curve already has (a run resumed from an earlier checkpoint after a worker was lost)
    replaces that step and everything after it.
    """
    history = History(
        step=int(snapshot.get("step", 0)),
        total_steps=int(snapshot.get("total", 0)),
        images_per_s=float(snapshot.get("images_per_s", 0.0)),
    )
    for name, config in (snapshot.get("models") or {}).items():
        history.models[name] = ModelHistory(name, dict(config), [], [])
    for point in points:
        tag, name, step = point[0], point[1], point[2]
        m = history.models.get(name)
        if m is None:
            m = history.models[name] = ModelHistory(name, {}, [], [])
        lists = (m.step, m.loss, m.accuracy, m.lr) if tag == "s" else (m.eval_step, m.eval_accuracy, m.eval_loss)
        if lists[0] and step <= lists[0][-1]:
            cut = bisect.bisect_left(lists[0], step)
            for values in lists:
                del values[cut:]
        for values, value in zip(lists, (step, *point[3:]), strict=False):
            values.append(value)
    for name, (reason, step) in (snapshot.get("stops") or {}).items():
        if name in history.models:
            history.models[name].stopped_reason, history.models[name].stopped_step = reason, step
    return history


@contextmanager
def _dataset(spec: dict, train: TrainConfig):
    """The TrainConfig to load data with: an upload's bytes go to a temporary folder on this worker, under the
    user's own file name, so that what is said about the zip names the user's file."""
    if spec.get("upload") is None:
        yield train
        return
    name = Path(str(spec.get("upload_name") or "")).name
    with tempfile.TemporaryDirectory(prefix="explorer-upload-") as folder:
        path = Path(folder) / (name if name.lower().endswith(".zip") and not name.startswith(".") else "upload.zip")
        path.write_bytes(spec["upload"])
        yield replace(train, dataset=str(path))


class _Reporter:
    """A training job's ``progress``: sends the curves' new points and snapshots to ``ctx``, and saves the run
    every ``spec["checkpoint_every"]`` steps. ``sent`` is what ``history_points`` has sent so far."""

    def __init__(self, spec: dict, ctx, save: Callable[[], None]) -> None:
        self.ctx, self.save = ctx, save
        self.every = int(spec.get("checkpoint_every") or 0)
        self.every_step = bool(spec.get("report_every_step", False))
        self.sent: dict[str, tuple[int, int]] = {}

    def points(self, history: History) -> None:
        """The steps and evaluations of ``history`` not sent yet."""
        self.ctx.add_points(history_points(history, self.sent))

    def __call__(self, p: Progress) -> None:
        if len(self.sent) != len(p.history.models):
            self.ctx.report(models={k: m.config for k, m in p.history.models.items()})
        self.points(p.history)
        checkpoint = self.every and p.step % self.every == 0 and p.step < p.total
        if checkpoint:
            self.save()
        force = self.every_step or p.step == p.total
        if checkpoint or force or self.ctx.due():
            stops = {k: (m.stopped_reason, m.stopped_step) for k, m in p.history.models.items() if m.stopped_reason}
            self.ctx.report(
                force=force,
                phase="training",
                step=p.step,
                total=p.total,
                images_per_s=p.rate,
                eta_s=p.eta_s,
                metrics=p.metrics,
                stops=stops,
            )


def _start(spec: dict, run, configs: list[ResNetConfig], train: TrainConfig) -> tuple[dict, dict, History]:
    """(models, optimizers, history): resumed from the run folder when it holds this run (or extends it), else new."""
    if spec.get("extend") or (run is not None and runs.holds(run, configs, train)):
        if run is None:
            raise FileNotFoundError(f"no run to extend in {spec['run_dir']}")
        return runs.resume(run, train)  # nanoGPT's init_from="resume"
    return build_models(configs, seed=train.seed), {}, History()


def train_task(spec: dict, ctx) -> dict:
    """Load the data, build the networks or resume them from the run folder, train them in lock-step with
    checkpoints, save the run (``runs.save_run``: whole or not at all) and return it (``runs.run_result``)."""
    train = TrainConfig.from_dict(spec["train"])
    title = spec.get("title") or "run"
    run_dir = Path(spec["run_dir"])
    extend = bool(spec.get("extend"))
    run = runs.load_resumable(run_dir)
    if not extend and run is not None and run.dataset is not None and runs.complete(run, spec["configs"], train):
        step = run.history.step  # trained already: the run as it was saved
        ctx.report(force=True, phase="finished", step=step, total=train.steps, checkpoint_step=step)
        return runs.run_result(run.path, title, run.load_models(), run.history, train, run.dataset)
    ctx.report(force=True, phase="loading data", total=train.steps)
    with _dataset(spec, train) as data_config:
        data, held_out = load_train_data(data_config, root=spec.get("data_root"), download=spec.get("download", False))
    info = data.info
    if data.skipped:  # the user's files that were refused: (name, reason, message, message as a pair) for the page
        ctx.report(force=True, skipped=[(s.name, s.reason, s.message, s.text) for s in data.skipped])
    configs = [replace_config(c, num_classes=info.num_classes, in_channels=info.in_channels) for c in spec["configs"]]
    models, optimizers, history = _start(spec, run, configs, train)

    def save() -> None:
        runs.save_run(models, history, train, out=run_dir, name=title, optimizers=optimizers, dataset_info=info)
        ctx.report(force=True, checkpoint_step=history.step)

    reporter = _Reporter(spec, ctx, save)
    reporter.points(history)  # a resumed run's curve so far, once
    ctx.report(models={k: m.config for k, m in history.models.items()})
    if extend or history.step < train.steps:
        if history.step:
            total = history.step + train.steps if extend else train.steps
            ctx.report(force=True, phase="training", step=history.step, total=total, resumed_from=history.step)
        train_lockstep(
            models,
            data,
            train,
            held_out,
            reporter,
            ctx.stop,
            history=history,
            optimizers=optimizers,
            resume=not extend,
            device=spec.get("device", "auto"),
        )
    reporter.points(history)
    ctx.report(force=True, phase="saving", step=history.step, total=history.total_steps)
    save()
    return runs.run_result(run_dir, title, models, history, train, info)
