"""Live training for the app: a lock-step run packaged as a queue job whose records a page can poll.

The page creates a ``LiveRun`` (its ``history`` exists before training starts), submits it to the
server's ``JobQueue``, and redraws from ``live.history`` while the worker appends to it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from explorer.datasets import DatasetInfo, ImageDataset
from explorer.jobs import Job, JobQueue
from explorer.models import ResNetConfig, replace_config
from explorer.recorders import History
from explorer.runs import save_run
from explorer.training import TrainConfig, build_models, load_train_data, train_lockstep

log = logging.getLogger(__name__)


@dataclass
class LiveRun:
    """One training run as the app sees it; fields fill in as the job goes."""

    title: str
    configs: tuple[ResNetConfig, ...]
    train_config: TrainConfig
    history: History = field(default_factory=History)
    models: dict[str, nn.Module] = field(default_factory=dict)
    info: DatasetInfo | None = None
    run_dir: Path | None = None
    phase: str = "waiting"  # waiting, loading data, training, saving, finished


def training_work(
    live: LiveRun,
    runs_root: Path | None,
    data: tuple[ImageDataset, ImageDataset] | None = None,
) -> Callable:
    """The job body: load data, build the networks, train them in lock-step, save the run."""

    def work(report: Callable, stop: threading.Event) -> LiveRun:
        live.phase = "loading data"
        train, held_out = data if data is not None else load_train_data(live.train_config)
        live.info = train.info
        configs = [
            replace_config(c, num_classes=train.info.num_classes, in_channels=train.info.in_channels)
            for c in live.configs
        ]
        models = build_models(configs, seed=live.train_config.seed)
        live.phase = "training"
        train_lockstep(models, train, live.train_config, held_out, progress=report, stop=stop, history=live.history)
        live.models = models
        if runs_root is not None:
            live.phase = "saving"
            live.run_dir = save_run(
                models, live.history, live.train_config, root=runs_root, name=live.title, dataset_info=train.info
            )
        live.phase = "finished"
        return live

    return work


def start_training(
    queue: JobQueue,
    title: str,
    configs: list[ResNetConfig] | tuple[ResNetConfig, ...],
    train_config: TrainConfig,
    runs_root: Path | None = None,
    owner: str = "",
    data: tuple[ImageDataset, ImageDataset] | None = None,
) -> tuple[Job, LiveRun]:
    """Queue a lock-step training run; returns the job and the live view of its records."""
    if not configs:
        raise ValueError("choose at least one network to train")
    live = LiveRun(title, tuple(configs), train_config)
    job = queue.submit(title, training_work(live, runs_root, data), owner=owner)
    return job, live
