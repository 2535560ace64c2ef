"""What the job engine's workers run: lock-step training, the lesion study, the randomisation check, sweeps.

Each body is ``fn(spec, ctx)``: ``spec`` a plain dict of what to compute (pickled to the worker), ``ctx``
an ``explorer.engine.JobContext`` (or ``LocalContext`` in-process) with ``report(**fields)`` and
``stop.is_set()``. The ``*_job`` functions build the spec and the job's key (a hash of what it computes,
so identical requests share one job). The CLI and the pages call the same functions.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import torch

from explorer import engine
from explorer.models import ResNetConfig, build_resnet, replace_config
from explorer.recorders import History
from explorer.training import TrainConfig, build_models, load_train_data, make_optimizer, train_lockstep

CHECKPOINT_EVERY = 50  # steps between checkpoints of a training job
UPLOAD = "upload"  # TrainConfig.dataset of a job whose images come as zip bytes in the spec


def state_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """A hash of a network's weights: two sessions looking at the same network share one job."""
    h = hashlib.sha256()
    for k, v in state_dict.items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


# ---- training --------------------------------------------------------------------------------


def training_job(
    title: str,
    configs: list[ResNetConfig] | tuple[ResNetConfig, ...],
    train: TrainConfig,
    runs_root: str | Path,
    upload: bytes | None = None,
    data_root: str | None = None,
    download: bool = False,
    out: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    report_every_step: bool = False,
    device: str = "auto",
) -> tuple[str, dict]:
    """(key, spec) of a lock-step training job; the run directory is ``runs_root/<title>-<id>`` unless ``out``.

    The key hashes the networks, the training config (dataset, seed and steps included) and an upload's bytes.
    """
    if not configs:
        raise ValueError("choose at least one network to train")
    if upload is not None:
        train = replace(train, dataset=UPLOAD)
    key = engine.job_key("train", {"configs": list(configs), "train": train.to_dict(), "upload": upload})
    from explorer.runs import _slug

    run_dir = Path(out) if out is not None else Path(runs_root) / f"{_slug(title)}-{engine.job_id(key)}"
    spec = {
        "title": title,
        "configs": list(configs),
        "train": train.to_dict(),
        "upload": upload,
        "data_root": data_root,
        "download": download,
        "run_dir": str(Path(run_dir).resolve()),
        "checkpoint_every": checkpoint_every,
        "report_every_step": report_every_step,  # a snapshot after every step, not every REPORT_S seconds
        "device": str(device),  # resolved where the job runs ("auto": the worker's GPU if it has one)
    }
    return key, spec


def light_history(history: History) -> dict:
    """The per-step curves of a History as a small msgpack-able dict (no gradient norms, no responses)."""
    models = {}
    for name, m in list(history.models.items()):
        n, e = len(m.step), len(m.eval_step)  # align on step: the lists grow while training runs
        models[name] = {
            "name": m.name,
            "config": dict(m.config),
            "layers": list(m.layers),
            "blocks": list(m.blocks),
            **{k: list(getattr(m, k)[:n]) for k in ("step", "loss", "accuracy", "lr")},
            **{k: list(getattr(m, k)[:e]) for k in ("eval_step", "eval_accuracy", "eval_loss")},
            **{k: [] for k in ("grad_norms", "response_step", "block_output_norms", "branch_norms")},
            "stopped_reason": m.stopped_reason,
            "stopped_step": m.stopped_step,
        }
    run = {k: getattr(history, k) for k in ("step", "total_steps", "wall_s", "images_per_s", "stopped_reason")}
    return {**run, "finished": history.finished, "models": models}


@contextmanager
def _dataset(spec: dict, train: TrainConfig):
    """The TrainConfig to load data with: an upload's bytes go to a temporary zip on this worker."""
    if spec.get("upload") is None:
        yield train
        return
    fd, path = tempfile.mkstemp(prefix="explorer-upload-", suffix=".zip")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(spec["upload"])
        yield replace(train, dataset=path)
    finally:
        os.unlink(path)


@contextmanager
def _swap_in(run_dir: Path):
    """Write a run into a fresh folder, then swap it in: a worker killed mid-write leaves the last checkpoint whole."""
    tmp, old = run_dir.with_name(f".{run_dir.name}.saving"), run_dir.with_name(f".{run_dir.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if (run_dir / "config.json").is_file():
        shutil.copy2(run_dir / "config.json", tmp / "config.json")  # keeps the run's name and creation time
    yield tmp
    shutil.rmtree(old, ignore_errors=True)
    if run_dir.exists():
        run_dir.rename(old)
    tmp.rename(run_dir)
    shutil.rmtree(old, ignore_errors=True)


def recover_interrupted_save(run_dir: str | Path) -> None:
    """Put the last whole checkpoint back when a worker was killed between the two renames of ``_swap_in``."""
    run_dir = Path(run_dir)
    old = run_dir.with_name(f".{run_dir.name}.old")
    if not run_dir.exists() and (old / "config.json").is_file():
        old.rename(run_dir)


def resume_or_start(run_dir: Path, configs: list[ResNetConfig], train: TrainConfig):
    """(models, optimizers, history): from the checkpoint in ``run_dir`` if it holds this run, else fresh."""
    from explorer.runs import load_optimizer_state, load_run

    recover_interrupted_save(run_dir)
    if (run_dir / "config.json").is_file():
        try:
            run = load_run(run_dir)
        except (ValueError, KeyError, TypeError):
            run = None
        if run is not None and run.train == train and set(run.model_configs) == {c.name for c in configs}:
            models = run.load_models()
            optimizers = {}
            for name, model in models.items():
                opt = make_optimizer(model, train)
                path = run_dir / run.meta["models"][name]["checkpoint"].replace(".pt", ".optim.pt")
                if path.is_file():
                    opt.load_state_dict(load_optimizer_state(path))
                optimizers[name] = opt
            return models, optimizers, run.history
    return build_models(configs, seed=train.seed), {}, History()


def train_task(spec: dict, ctx) -> dict:
    """Load the data, build (or resume) the networks, train them in lock-step with checkpoints, save the run."""
    from explorer.runs import save_run

    train = TrainConfig.from_dict(spec["train"])
    title = spec.get("title") or "run"
    run_dir = Path(spec["run_dir"])
    ctx.report(force=True, phase="loading data", total=train.steps)
    with _dataset(spec, train) as data_config:
        data, held_out = load_train_data(data_config, root=spec.get("data_root"), download=spec.get("download", False))
    info = data.info
    if data.skipped:  # the user's files that were refused: (name, reason, message) for the page
        ctx.report(force=True, skipped=[(s.name, s.reason, s.message) for s in data.skipped])
    configs = [replace_config(c, num_classes=info.num_classes, in_channels=info.in_channels) for c in spec["configs"]]
    models, optimizers, history = resume_or_start(run_dir, configs, train)
    every = int(spec.get("checkpoint_every") or 0)

    def save() -> None:
        with _swap_in(run_dir) as tmp:
            save_run(models, history, train, out=tmp, name=title, optimizers=optimizers, dataset_info=info)
        ctx.report(force=True, checkpoint_step=history.step)

    def progress(p) -> None:
        checkpoint = every and p.step % every == 0 and p.step < p.total
        if checkpoint:
            save()
        force = spec.get("report_every_step", False) or p.step == p.total
        if checkpoint or force or ctx.due():
            ctx.report(
                force=force,
                phase="training",
                step=p.step,
                total=p.total,
                images_per_s=p.images_per_s,
                eta_s=p.eta_s,
                metrics=p.metrics,
                history=light_history(p.history),
            )

    if history.step < train.steps:
        ctx.report(force=True, phase="training", step=history.step, resumed_from=history.step)
        train_lockstep(
            models,
            data,
            train,
            held_out,
            progress,
            ctx.stop,
            history=history,
            optimizers=optimizers,
            resume=True,
            device=spec.get("device", "auto"),
        )
    ctx.report(force=True, phase="saving", step=history.step, history=light_history(history))
    save()
    return {
        "run_dir": str(run_dir),
        "title": title,
        "train": train.to_dict(),
        "dataset": info.to_dict(),
        "history": history.to_dict(),
        "state_dicts": {k: m.state_dict() for k, m in models.items()},
        "configs": {k: m.config for k, m in models.items()},
    }


def save_result(result: dict, runs_root: str | Path | None = None) -> Path:
    """Write a finished training job's run on this machine (when the worker's disk is another machine's)."""
    from explorer.datasets.base import DatasetInfo
    from explorer.runs import save_run

    run_dir = Path(result["run_dir"])
    if runs_root is not None and not run_dir.parent.is_dir():
        run_dir = Path(runs_root) / run_dir.name
    models = {}
    for k, cfg in result["configs"].items():
        models[k] = build_resnet(cfg)
        models[k].load_state_dict(result["state_dicts"][k])
    history = History.from_dict(result["history"])
    info = DatasetInfo.from_dict(result["dataset"])
    train = TrainConfig.from_dict(result["train"])
    return save_run(models, history, train, out=run_dir, name=result["title"], dataset_info=info)


# ---- the lesion study and the randomisation check ------------------------------------------------


def _network(entry: dict) -> torch.nn.Module:
    model = build_resnet(entry["config"])
    model.load_state_dict(entry["state_dict"])
    return model.eval()


def lesion_job(models: list[tuple[ResNetConfig, dict]], image_size: int) -> tuple[str, dict]:
    """(key, spec) of a lesion study (Veit et al. 2016) of each (config, state_dict) on held-out shapes."""
    entries = [{"config": c, "state_dict": sd} for c, sd in models]
    key = engine.job_key("lesion", {"models": [(c, state_digest(sd)) for c, sd in models], "size": image_size})
    return key, {"title": "lesion study", "models": entries, "image_size": image_size}


def lesion_task(spec: dict, ctx) -> list:
    """One ``LesionResult`` per network; stops between evaluations when asked (results so far come back)."""
    from explorer.experiments.lesion import lesion_study
    from explorer.experiments.precompute import lesion_data

    x, y = lesion_data(spec["image_size"])
    results, n = [], len(spec["models"])
    for i, entry in enumerate(spec["models"]):
        if ctx.stop.is_set():
            break

        def progress(done, total, i=i):
            ctx.report(phase=f"network {i + 1} of {n}", step=i * total + done, total=n * total)

        results.append(lesion_study(_network(entry), (x, y), progress=progress, stop=ctx.stop))
    return results


def randomisation_job(
    models: list[tuple[str, ResNetConfig, dict, torch.Tensor, str | None, int | None, torch.Tensor | None]],
    methods: tuple[str, ...] | None = None,
) -> tuple[str, dict]:
    """(key, spec) of Adebayo et al.'s cascading randomisation check of each (name, config, state_dict, image,
    layer, target, calibration batch), every method on the same randomised copies."""
    from explorer.trust import CHECK_METHODS

    methods = tuple(methods or CHECK_METHODS)
    entries = [
        {"name": n, "config": c, "state_dict": sd, "x": x, "layer": layer, "target": t, "calibration": cal}
        for n, c, sd, x, layer, t, cal in models
    ]
    digest = [
        (n, c, state_digest(sd), state_digest({"x": x, "calibration": cal if cal is not None else x}), layer, t)
        for n, c, sd, x, layer, t, cal in models
    ]
    key = engine.job_key("randomise", {"models": digest, "methods": methods})
    return key, {"title": "randomisation check", "models": entries, "methods": methods}


def randomisation_task(spec: dict, ctx) -> dict:
    """name -> method -> ``RandomisationResult``; stops between randomisation steps when asked."""
    from explorer.attribution import target_layers
    from explorer.trust import randomisation_check

    out, n = {}, len(spec["models"])
    for i, entry in enumerate(spec["models"]):
        if ctx.stop.is_set():
            break
        model = _network(entry)
        layer = entry["layer"] if entry["layer"] in target_layers(model) else None

        def progress(done, total, i=i):
            ctx.report(phase=f"network {i + 1} of {n}", step=i * total + done, total=n * total)

        out[entry["name"]] = randomisation_check(
            model,
            entry["x"],
            spec["methods"],
            layer=layer,
            target=entry["target"],
            calibration=entry.get("calibration"),
            progress=progress,
            stop=ctx.stop,
        )
    return out


SWEEPS = ("depth", "shattered")


def sweep_job(sweep: str, depths: tuple[int, ...] | None = None) -> tuple[str, dict]:
    """(key, spec) of a sweep at initialisation: gradient norms across depths, or the shattered-gradients probe."""
    if sweep not in SWEEPS:
        raise ValueError(f"sweep must be one of {SWEEPS}, got {sweep!r}")
    spec = {"title": f"{sweep} sweep", "sweep": sweep, "depths": list(depths) if depths else None}
    return engine.job_key("sweep", {k: v for k, v in spec.items() if k != "title"}), spec


def sweep_task(spec: dict, ctx) -> list:
    """The sweep's results (one per network); stops between networks when asked."""
    from explorer.gradients import depth_sweep, shattered_sweep

    fn = depth_sweep if spec["sweep"] == "depth" else shattered_sweep
    kwargs = {"depths": tuple(spec["depths"])} if spec.get("depths") else {}

    def progress(done, total):
        ctx.report(phase=f"network {done} of {total}", step=done, total=total)

    return fn(**kwargs, progress=progress, stop=ctx.stop)


def landscape_job(
    run_dir: str | Path, networks: list[str], grid: int, images: int, precision: str = "float32", seed: int = 0
) -> tuple[str, dict]:
    """(key, spec) of the loss landscapes (Li et al. 2018) of some networks of a saved run, one after another.

    The key names the run by its folder and its state (steps, last save), so a run that trained on is measured
    afresh. The worker reads the run from ``run_dir``: the embedded cluster, or workers sharing the folder.
    """
    from explorer.runs import load_run

    run = load_run(run_dir)
    options = {"grid": grid, "images": images, "precision": precision, "seed": seed}
    what = {"run": Path(run_dir).resolve().name, "step": run.history.step, "updated": run.meta.get("updated")}
    key = engine.job_key("landscape", {**what, "networks": list(networks), **options})
    spec = {"title": "loss landscape", "run_dir": str(Path(run_dir).resolve()), "networks": list(networks), **options}
    return key, spec


def landscape_task(spec: dict, ctx) -> list:
    """The ``Landscape`` of each network, in order; a stop ends the current one with the points done so far."""
    from explorer.experiments.landscape import run_landscape

    out, names = [], spec["networks"]
    for i, name in enumerate(names):
        if ctx.stop.is_set():
            break

        def progress(p, i=i, name=name) -> None:
            ctx.report(phase=f"{name} ({i + 1} of {len(names)})", step=p.done, total=p.total, eta_s=p.eta_s)

        out.append(
            run_landscape(
                spec["run_dir"],
                name,
                grid=spec["grid"],
                images=spec["images"],
                seed=spec["seed"],
                precision=spec["precision"],
                progress=progress,
                stop=ctx.stop,
            )
        )
    return out


def saliency_job(
    run_dir: str | Path, networks: list[str], images: int = 256, seed: int = 0, randomised: bool = True
) -> tuple[str, dict]:
    """(key, spec) of the saliency benchmark of some networks of a saved run (and, with ``randomised``, of each
    with its weights randomised), one after another. Keyed by the run's folder and state, as landscape_job."""
    from explorer.runs import load_run

    run = load_run(run_dir)
    what = {"run": Path(run_dir).resolve().name, "step": run.history.step, "updated": run.meta.get("updated")}
    weights = ["trained", "randomised"] if randomised else ["trained"]
    options = {"networks": list(networks), "weights": weights, "images": images, "seed": seed}
    key = engine.job_key("saliency", {**what, **options})
    return key, {"title": "saliency benchmark", "run_dir": str(Path(run_dir).resolve()), **options}


def saliency_task(spec: dict, ctx) -> list:
    """The benchmark's result (``experiments.saliency.run_saliency``) of each network and weights, in order;
    a stop ends the current one with the images done so far."""
    from explorer.experiments.saliency import run_saliency

    todo = [(name, w) for name in spec["networks"] for w in spec["weights"]]
    out, n = [], spec["images"]
    for i, (name, weights) in enumerate(todo):
        if ctx.stop.is_set():
            break

        def progress(done, total, i=i, name=name, weights=weights) -> None:
            phase = f"{name}, {weights} ({i + 1} of {len(todo)})"
            ctx.report(phase=phase, step=i * n + done, total=len(todo) * n)

        result = run_saliency(spec["run_dir"], name, n, spec["seed"], weights, progress, ctx.stop.is_set)
        if result is not None:
            out.append(result)
    return out


TASKS = {
    "train": train_task,
    "lesion": lesion_task,
    "randomise": randomisation_task,
    "sweep": sweep_task,
    "landscape": landscape_task,
    "saliency": saliency_task,
}
