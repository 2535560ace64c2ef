"""Run directories: the one owner of a saved run. Names its folder, saves it whole, loads it, resumes it.

    runs/quick-0123456789abcdef/       # <title>-<job id> for a job (``job_run_dir``); a CLI --out is any folder
        config.json        # TrainConfig, each network's ResNetConfig, the dataset's info; written last
        metrics.json       # the full History (explorer.training.recorders)
        metrics.csv        # one row per network and step: loss, accuracy, lr, total gradient norm
        checkpoints/<net>.pt        # the network's state_dict (tensors only)
        checkpoints/<net>.optim.pt  # its optimizer's state_dict, for resuming
        checkpoints/<net>.init.pt   # its step-0 weights (for the init-to-trained loss line)

That folder is the one checkpoint format: a checkpoint during training and the finished run are the same
``save_run``. A save writes a fresh hidden folder next to the run and swaps it in with ``os.rename`` (the old
one moved aside first, then deleted), so no reader ever sees a half-written run, whether the CLI, a job on a
worker or the web server writes it; a process killed between the two renames leaves the last whole run aside,
and ``load_run`` puts it back. ``resume`` is the one way back in (nanoGPT's ``init_from='resume'``): networks,
optimizers and history as they were saved; the trainer goes on from ``history.step``.

Checkpoints load with ``torch.load(..., weights_only=True)``; anything that is not a state_dict of
tensors is refused with a ValueError. Torch loads only with weights: ``load_run`` reads a run's records (history,
recipe, configs) without it.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.data.info import DatasetInfo
from explorer.models.config import ResNetConfig
from explorer.training.config import TrainConfig
from explorer.training.history import History
from explorer.training.jsonable import nan_for_none, to_json

if TYPE_CHECKING:  # torch loads only with weights: a run's records read without it (the Learn page draws them)
    import torch
    from torch import nn

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path("runs")
STALE_SAVE_S = 600  # a hidden .saving folder older than this was left by a killed process


def _slug(name: str) -> str:
    """A file-system-safe name: 'ResNet-56' -> 'resnet-56'."""
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-") or "net"


def job_run_dir(root: str | Path, title: str, job_id: str) -> Path:
    """Where the run of the training job ``job_id`` lives: ``root/<title>-<job id>``."""
    return Path(root) / f"{_slug(title)}-{job_id}"


def find_job_run(root: str | Path, job_id: str) -> Path | None:
    """The folder of job ``job_id``'s run under ``root`` (whatever its title), if there is one."""
    root = Path(root)
    if not root.is_dir():
        return None
    found = sorted(p for p in root.glob(f"*-{job_id}") if not p.name.startswith("."))
    for path in found:
        recover_interrupted_save(path)
    return found[0] if found else None


def new_run_dir(root: str | Path, name: str) -> Path:
    """A new timestamped folder name under ``root`` for a run that is no job's."""
    return Path(root) / f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(name)}"


def save_run(
    models: dict[str, nn.Module],
    history: History,
    config: TrainConfig,
    out: str | Path | None = None,
    root: str | Path = DEFAULT_ROOT,
    name: str = "run",
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
    dataset_info: DatasetInfo | None = None,
) -> Path:
    """Write a run directory (``out``, or a new timestamped one under ``root``) whole, and return its path.

    Files of an earlier save that this one does not write (step-0 weights, an optimizer's state) are kept.
    """
    import torch

    path = Path(out) if out is not None else new_run_dir(root, name)
    recover_interrupted_save(path)
    previous = _read_json(path / "config.json") if (path / "config.json").is_file() else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.saving-{uuid.uuid4().hex[:8]}")
    try:
        (tmp / "checkpoints").mkdir(parents=True)
        for k, state in history.initial_states.items():
            if k in models:
                torch.save(state, tmp / "checkpoints" / f"{_slug(k)}.init.pt")
        (tmp / "metrics.json").write_text(json.dumps(to_json(history.to_dict())))
        _write_csv(tmp / "metrics.csv", history)
        for k, model in models.items():
            torch.save(model.state_dict(), tmp / "checkpoints" / f"{_slug(k)}.pt")
            if optimizers and k in optimizers:
                torch.save(optimizers[k].state_dict(), tmp / "checkpoints" / f"{_slug(k)}.optim.pt")
        _keep_earlier_files(path, tmp, models)
        meta = {
            "name": previous.get("name", name),
            "created": previous.get("created", time.strftime("%Y-%m-%dT%H:%M:%S")),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "train": config.to_dict(),
            "first_train": previous.get("first_train", previous.get("train", config.to_dict())),
            "models": {k: {**history.models[k].config, **_checkpoint_names(tmp, k)} for k in models},
            "dataset": dataset_info.to_dict() if dataset_info is not None else previous.get("dataset"),
        }
        (tmp / "config.json").write_text(json.dumps(to_json(meta), indent=2))
        _swap_in(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("saved run to %s", path)
    return path


def _keep_earlier_files(path: Path, tmp: Path, names) -> None:
    """Hard-link (or copy) into ``tmp`` the step-0 weights and optimizer states of networks ``names`` that the
    run at ``path`` has and this save does not write (a resumed run no longer holds its step-0 weights)."""
    for name in names:
        for suffix in (".init.pt", ".optim.pt"):
            src = path / "checkpoints" / f"{_slug(name)}{suffix}"
            dst = tmp / "checkpoints" / src.name
            if dst.exists() or not src.is_file():
                continue
            try:
                os.link(src, dst)  # never written again: the new run shares the file
            except OSError:
                shutil.copy2(src, dst)


def _swap_in(tmp: Path, path: Path) -> None:
    """Make the whole folder ``tmp`` the run at ``path``: the old run goes aside, ``tmp`` takes its name."""
    for _attempt in range(10):  # another process saving the same run may swap in between
        old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
        try:
            if path.exists():
                os.rename(path, old)
            os.rename(tmp, path)  # ``path`` is free now: the new run appears whole, at once
        except OSError:
            time.sleep(0.05)
            continue
        shutil.rmtree(old, ignore_errors=True)
        return
    raise OSError(f"could not save {path}: another process kept replacing it")


def recover_interrupted_save(path: str | Path) -> None:
    """Put the last whole run back when a process was killed between the two renames of a save."""
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        return
    if not path.exists():
        aside = sorted(
            (p for p in parent.glob(f".{path.name}.old-*") if (p / "config.json").is_file()),
            key=lambda p: p.stat().st_mtime,
        )
        if aside:
            try:
                os.rename(aside[-1], path)
            except OSError:  # another process recovered it first
                pass
    for stale in parent.glob(f".{path.name}.saving-*"):
        try:
            if time.time() - stale.stat().st_mtime > STALE_SAVE_S:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            pass


def _checkpoint_names(path: Path, name: str) -> dict[str, str]:
    """config.json's file names for a network: its weights, and its step-0 weights where the run has them."""
    names = {"checkpoint": f"checkpoints/{_slug(name)}.pt"}
    if (path / "checkpoints" / f"{_slug(name)}.init.pt").is_file():
        names["initial"] = f"checkpoints/{_slug(name)}.init.pt"
    return names


def _write_csv(path: Path, history: History) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "step", "loss", "accuracy", "lr", "grad_norm_total"])
        for name, h in history.models.items():
            for i, step in enumerate(h.step):
                total = math.sqrt(sum(g * g for g in h.grad_norms[i]))
                w.writerow([name, step, f"{h.loss[i]:.6g}", f"{h.accuracy[i]:.6g}", f"{h.lr[i]:.6g}", f"{total:.6g}"])


def _read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read {path}: {e}") from e


@dataclass
class Run:
    """A reloaded run directory."""

    path: Path
    name: str
    train: TrainConfig
    model_configs: dict[str, ResNetConfig]
    history: History
    dataset: DatasetInfo | None
    meta: dict

    def load_models(self) -> dict[str, nn.Module]:
        """The networks with their saved weights (strictly loaded)."""
        from explorer.models.resnet import build_resnet

        models = {}
        for k, cfg in self.model_configs.items():
            model = build_resnet(cfg)
            model.load_state_dict(load_checkpoint(self.path / self.meta["models"][k]["checkpoint"]))
            models[k] = model
        return models

    def load_initial(self, name: str) -> nn.Module | None:
        """The network ``name`` with its step-0 weights, or None for runs saved without them."""
        from explorer.models.resnet import build_resnet

        initial = self.meta["models"][name].get("initial")
        if initial is None or not (self.path / initial).is_file():
            return None
        model = build_resnet(self.model_configs[name])
        model.load_state_dict(load_checkpoint(self.path / initial))
        return model

    def final_losses(self) -> dict[str, float]:
        return self.history.final_losses()

    @property
    def updated(self) -> str:
        """When the run was last saved, to the minute: '2026-11-27 12:23' ('' if unknown)."""
        return str(self.meta.get("updated", ""))[:16].replace("T", " ")


def load_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """A state_dict of tensors, loaded with ``weights_only=True``; ValueError for anything else."""
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # the weights-only unpickler raises UnpicklingError, KeyError, EOFError... on junk
        raise ValueError(
            f"{path} is not a checkpoint this explorer loads (a state_dict of tensors saved with torch.save): "
            f"{str(e).splitlines()[0]}"
        ) from e
    if not isinstance(obj, dict) or not obj:
        raise ValueError(f"{path} does not hold a state_dict (a dict of name -> tensor), got {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"{path} is not a state_dict of tensors: entries {bad[:5]} are not name -> tensor")
    return obj


def load_optimizer_state(path: str | Path) -> dict:
    """An optimizer state_dict ({'state', 'param_groups'}), loaded with ``weights_only=True``."""
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # as in load_checkpoint
        raise ValueError(f"{path} is not an optimizer state_dict: {str(e).splitlines()[0]}") from e
    if not isinstance(obj, dict) or set(obj) != {"state", "param_groups"}:
        raise ValueError(f"{path} is not an optimizer state_dict")
    return obj


def load_run(path: str | Path) -> Run:
    """Reload a run directory written by ``save_run`` (after putting back one a killed save left aside)."""
    path = Path(path)
    recover_interrupted_save(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} is not a run directory (no config.json)")
    meta = _read_json(path / "config.json")
    history = History.from_dict(nan_for_none(_read_json(path / "metrics.json")))
    configs = {
        k: ResNetConfig(**{f: v for f, v in c.items() if f not in ("checkpoint", "initial")})
        for k, c in meta["models"].items()
    }
    dataset = DatasetInfo.from_dict(meta["dataset"]) if meta.get("dataset") else None
    return Run(path, meta.get("name", path.name), TrainConfig.from_dict(meta["train"]), configs, history, dataset, meta)


def list_runs(root: str | Path = DEFAULT_ROOT) -> list[Run]:
    """Every readable run directly under ``root``, newest first (unreadable ones are skipped and logged)."""
    root = Path(root)
    runs = []
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        if d.name.startswith("."):  # a save in progress, or the run it replaces
            continue
        if (d / "config.json").is_file():
            try:
                runs.append(load_run(d))
            except (ValueError, KeyError, TypeError, FileNotFoundError) as e:
                log.warning("skipping %s: %s", d, e)
    return sorted(runs, key=lambda r: r.meta.get("updated", ""), reverse=True)


def find_runs(*roots: Path | str) -> list[Run]:
    """Runs under the given roots, newest first; missing roots are skipped."""
    found = [run for root in roots for run in list_runs(root)]
    return sorted(found, key=lambda r: r.meta.get("updated", ""), reverse=True)


def load_resumable(path: str | Path) -> Run | None:
    """The run at ``path`` if there is a readable one, else None (nothing to resume: start from scratch)."""
    try:
        return load_run(path)
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def holds(run: Run, configs, train: TrainConfig) -> bool:
    """Whether ``run`` is a run of these networks with these training settings (so a job may go on with it)."""
    return run.train == train and set(run.model_configs) == {c.name for c in configs}


def complete(run: Run, configs, train: TrainConfig) -> bool:
    """Whether ``run`` is these networks trained with these settings to the end (not stopped part-way)."""
    return holds(run, configs, train) and run.history.finished and run.history.stopped_reason != "stopped"


def resume(run: Run, train: TrainConfig | None = None):
    """(models, optimizers, history) as ``run`` saved them: the one way to go on training a saved run.

    Optimizers are made for ``train`` (default: the run's own settings) and get their saved state where the run
    kept it; the trainer then continues from ``history.step``.
    """
    from explorer.training.lockstep import make_optimizer

    train = train or run.train
    models = run.load_models()
    optimizers = {}
    for name, model in models.items():
        opt = make_optimizer(model, train)
        path = run.path / run.meta["models"][name]["checkpoint"].replace(".pt", ".optim.pt")
        if path.is_file():
            opt.load_state_dict(load_optimizer_state(path))
        optimizers[name] = opt
    return models, optimizers, run.history


def run_result(path: Path, name: str, models, history: History, train: TrainConfig, info: DatasetInfo) -> dict:
    """A finished run as plain data (what a training job returns): ``save_result`` writes it on another machine."""
    return {
        "run_dir": str(path),
        "title": name,
        "train": train.to_dict(),
        "dataset": info.to_dict(),
        "history": history.to_dict(),
        "state_dicts": {k: m.state_dict() for k, m in models.items()},
        "initial_states": {k: v for k, v in history.initial_states.items() if k in models},
        "configs": {k: m.config for k, m in models.items()},
    }


def save_result(result: dict, root: str | Path | None = None) -> Path:
    """The run a training job returned, on this machine: its folder if it is here and holds this step, else
    written from ``result`` (under ``root`` when the job's folder is another machine's path)."""
    from explorer.models.resnet import build_resnet

    path = Path(result["run_dir"])
    if root is not None and not path.parent.is_dir():
        path = Path(root) / path.name
    run = load_resumable(path)
    if run is not None and run.history.step == result["history"]["step"] and run.history.finished:
        return path
    models = {}
    for k, cfg in result["configs"].items():
        models[k] = build_resnet(cfg)
        models[k].load_state_dict(result["state_dicts"][k])
    history = History.from_dict(result["history"])
    history.initial_states = dict(result.get("initial_states") or {})
    info = DatasetInfo.from_dict(result["dataset"])
    train = TrainConfig.from_dict(result["train"])
    return save_run(models, history, train, out=path, name=result["title"], dataset_info=info)
