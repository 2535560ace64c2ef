"""The gradient by path length (``explorer.interpret.paths``, Veit et al. 2016, Fig. 6) of saved runs and of networks
at initialisation: what the CLI, the job and ``make assets`` call, and the asset the Gradients page shows at once.

A trained network is measured on its run's own training images with its BN running statistics; an untrained one on
built-in shapes, its BN statistics set from one batch (``gradients.calibrate_bn``), as the other probes at
initialisation are. Each residual network comes with its plain twin's one path, for contrast.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from explorer.interpret.paths import PathResult
from explorer.progress import ProgressFn

PATHS_FILE = "path_lengths.json"
INIT_DEPTHS = (20, 56, 110)
IMAGES = 128
TARGET_SE = 0.1  # the asset's: the lengths of the effective range measured until their standard error is under 10%


def run_paths(
    run_dir: str | Path,
    network: str,
    samples: int = 32,
    seed: int = 0,
    images: int = IMAGES,
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
    target_se: float | None = None,
) -> PathResult | None:
    """The gradient by path length of one network of a saved run, on ``images`` of its training images
    (``target_se``: ``path_lengths``'s)."""
    from explorer.experiments.landscape import training_subset
    from explorer.interpret.paths import path_lengths, require_residual
    from explorer.training.runs import load_run

    run = load_run(run_dir)
    if network not in run.model_configs:
        raise ValueError(f"no network {network!r} in {Path(run_dir).name}; it has {list(run.model_configs)}")
    model = run.load_models()[network]
    require_residual(model)  # a plain network is refused before any data is loaded
    x, y = training_subset(run, min(images, run.train.train_size or images), seed)
    return path_lengths(model, x, y, samples, seed, target_se=target_se, progress=progress, stop=stop)


def untrained_paths(
    depth: int,
    samples: int = 32,
    seed: int = 0,
    preact: bool = False,
    residual: bool = True,
    images: int = IMAGES,
    size: int = 32,
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
    target_se: float | None = None,
) -> PathResult | None:
    """The gradient by path length of a CIFAR ResNet-``depth`` at initialisation (seed ``seed``), on built-in shapes;
    ``residual=False``: the plain twin's one path."""
    from explorer.interpret.gradients import calibrate_bn, shapes_batch
    from explorer.interpret.paths import path_lengths, plain_path
    from explorer.models.config import ResNetConfig
    from explorer.models.resnet import build_resnet

    x, y = shapes_batch(images, size=size, seed=seed)
    model = calibrate_bn(build_resnet(ResNetConfig("cifar", depth, residual=residual, preact=preact), seed=seed), x)
    if not residual:
        return plain_path(model, x, y)
    return path_lengths(model, x, y, samples, seed, target_se=target_se, progress=progress, stop=stop)


def run_plain_path(run_dir: str | Path, network: str, seed: int = 0, images: int = IMAGES) -> PathResult:
    """A plain network of a saved run: its one path, of full length."""
    from explorer.experiments.landscape import training_subset
    from explorer.interpret.paths import plain_path
    from explorer.training.runs import load_run

    run = load_run(run_dir)
    x, y = training_subset(run, min(images, run.train.train_size or images), seed)
    return plain_path(run.load_models()[network], x, y)


def save_path_lengths(
    out: str | Path,
    run_dir: str | Path | None,
    samples: int = 32,
    seed: int = 0,
    depths=INIT_DEPTHS,
    size: int = 24,
    log=print,
    target_se: float | None = TARGET_SE,
) -> Path:
    """Every network of ``run_dir`` (trained) and CIFAR ResNets of ``depths`` with their plain twins (at
    initialisation, on shapes of ``size`` pixels: the degradation run's), as JSON under ``out``:
    {"trained": {network: result}, "init": {network: result}, ...}; ``samples`` of every length, then more until
    ``target_se`` (``path_lengths``)."""
    from explorer.training.runs import load_run

    data = {"samples": samples, "target_se": target_se, "seed": seed, "size": size, "run": None}
    data.update(trained={}, init={})
    if run_dir is not None:
        run = load_run(run_dir)
        data["run"] = Path(run_dir).name
        for name, config in run.model_configs.items():
            if config.residual:
                r = run_paths(run_dir, name, samples, seed, target_se=target_se)
            else:
                r = run_plain_path(run_dir, name, seed)
            data["trained"][name] = r.to_dict()
            log(f"  {name} (trained): effective range {r.effective_range} of {r.blocks} blocks")
    for depth in depths:
        for residual in (True, False):
            r = untrained_paths(depth, samples, seed, residual=residual, size=size, target_se=target_se)
            data["init"][r.network] = r.to_dict()
            log(f"  {r.network} (initialisation): effective range {r.effective_range} of {r.blocks} blocks")
    path = Path(out) / PATHS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def load_path_lengths(folder: str | Path) -> dict | None:
    """The precomputed asset: {"trained": {network: PathResult}, "init": {...}, "run", "samples", "seed"}, or None."""
    path = Path(folder) / PATHS_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    for key in ("trained", "init"):
        data[key] = {name: PathResult.from_dict(r) for name, r in data[key].items()}
    return data
