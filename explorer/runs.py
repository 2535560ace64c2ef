"""Run directories: save a lock-step run, list runs, reload one, continue training it.

    runs/20260101-120000-degradation/
        config.json        # TrainConfig, each network's ResNetConfig, the dataset's info
        metrics.json       # the full History (explorer.recorders)
        metrics.csv        # one row per network and step: loss, accuracy, lr, total gradient norm
        checkpoints/<net>.pt        # the network's state_dict (tensors only)
        checkpoints/<net>.optim.pt  # its optimizer's state_dict, for continuing
        checkpoints/<net>.init.pt   # its step-0 weights (for the init-to-trained loss line)

Checkpoints load with ``torch.load(..., weights_only=True)``; anything that is not a state_dict of
tensors is refused with a ValueError.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from explorer.datasets import DatasetInfo, shapes_info
from explorer.jsonable import nan_for_none, to_json
from explorer.model_cards import PRECOMPUTED, ModelCard, card_for_dataset
from explorer.models import ResNetConfig, build_resnet
from explorer.recorders import History
from explorer.training import Progress, TrainConfig, load_train_data, make_optimizer, train_lockstep

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path("runs")


def _slug(name: str) -> str:
    """A file-system-safe name: 'ResNet-56' -> 'resnet-56'."""
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-") or "net"


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
    """Write a run directory (``out``, or a new timestamped one under ``root``) and return its path."""
    path = Path(out) if out is not None else Path(root) / f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(name)}"
    (path / "checkpoints").mkdir(parents=True, exist_ok=True)
    previous = _read_json(path / "config.json") if (path / "config.json").exists() else {}
    meta = {
        "name": previous.get("name", name),
        "created": previous.get("created", time.strftime("%Y-%m-%dT%H:%M:%S")),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "train": config.to_dict(),
        "first_train": previous.get("first_train", previous.get("train", config.to_dict())),
        "models": {k: {**history.models[k].config, **_checkpoint_names(path, k, history)} for k in models},
        "dataset": dataset_info.to_dict() if dataset_info is not None else previous.get("dataset"),
    }
    for k, state in history.initial_states.items():
        if k in models:
            torch.save(state, path / "checkpoints" / f"{_slug(k)}.init.pt")
    (path / "config.json").write_text(json.dumps(to_json(meta), indent=2))
    (path / "metrics.json").write_text(json.dumps(to_json(history.to_dict())))
    _write_csv(path / "metrics.csv", history)
    for k, model in models.items():
        torch.save(model.state_dict(), path / "checkpoints" / f"{_slug(k)}.pt")
        if optimizers and k in optimizers:
            torch.save(optimizers[k].state_dict(), path / "checkpoints" / f"{_slug(k)}.optim.pt")
    log.info("saved run to %s", path)
    return path


def _checkpoint_names(path: Path, name: str, history: History) -> dict[str, str]:
    """config.json's file names for a network: its weights, and its step-0 weights where the run has them."""
    names = {"checkpoint": f"checkpoints/{_slug(name)}.pt"}
    if name in history.initial_states or (path / "checkpoints" / f"{_slug(name)}.init.pt").is_file():
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
        models = {}
        for k, cfg in self.model_configs.items():
            model = build_resnet(cfg)
            model.load_state_dict(load_checkpoint(self.path / self.meta["models"][k]["checkpoint"]))
            models[k] = model
        return models

    def load_initial(self, name: str) -> nn.Module | None:
        """The network ``name`` with its step-0 weights, or None for runs saved without them."""
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
    """Reload a run directory written by ``save_run``."""
    path = Path(path)
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
        if (d / "config.json").is_file():
            try:
                runs.append(load_run(d))
            except (ValueError, KeyError, TypeError) as e:
                log.warning("skipping %s: %s", d, e)
    return sorted(runs, key=lambda r: r.meta.get("updated", ""), reverse=True)


def extend_run(
    path: str | Path,
    steps: int,
    progress: Callable[[Progress], None] | None = None,
    root=None,
    device: str | torch.device | None = "auto",
) -> Run:
    """Continue a run for ``steps`` more lock-steps (a fresh schedule of that length, optimizer state kept).

    The history grows in place, step numbers continue, and the run directory is rewritten.
    """
    run = load_run(path)
    config = replace(run.train, steps=steps)
    models = run.load_models()
    optimizers = {}
    for k, model in models.items():
        opt = make_optimizer(model, config)
        optim_path = run.path / "checkpoints" / f"{_slug(k)}.optim.pt"
        if optim_path.is_file():
            opt.load_state_dict(load_optimizer_state(optim_path))
        optimizers[k] = opt
    train, held_out = load_train_data(config, root=root)
    train_lockstep(models, train, config, held_out, progress, history=run.history, optimizers=optimizers, device=device)
    save_run(models, run.history, config, out=run.path, optimizers=optimizers, dataset_info=train.info)
    return load_run(run.path)


def find_runs(*roots: Path | str) -> list[Run]:
    """Runs under the given roots, newest first; missing roots are skipped."""
    found = [run for root in roots for run in list_runs(root)]
    return sorted(found, key=lambda r: r.meta.get("updated", ""), reverse=True)


def run_cards(run: Run) -> list[ModelCard]:
    """A card per network of a saved run, labelled with the run's name."""
    info = run.dataset or shapes_info(run.train.image_size or 32)
    cards = []
    for name, config in run.model_configs.items():
        checkpoint = str(run.path / run.meta["models"][name]["checkpoint"])
        card = card_for_dataset(config, info, PRECOMPUTED, path=checkpoint, run=str(run.path))
        cards.append(replace(card, label=f"{config.name}, trained ({run.name}, {run.history.step} steps)"))
    return cards
