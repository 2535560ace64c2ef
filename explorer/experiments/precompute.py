"""Results the app shows at once, computed in advance by ``python -m explorer precompute`` into assets/.

The gradient-norm depth sweep and the shattered-gradients sweep at initialisation take tens of seconds
on a laptop CPU, too long for a landing page; the same functions re-run them live on request.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from explorer.gradients import ShatteredResult, SweepResult, depth_sweep, shattered_sweep
from explorer.models import CIFAR_PRESETS

log = logging.getLogger(__name__)

SWEEP_FILE = "gradient_sweep.json"
SHATTERED_FILE = "shattered.json"
DEPTHS = CIFAR_PRESETS
SHATTERED_DEPTHS = (20, 56, 110)


def _plain(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def save_sweeps(out: str | Path, seed: int = 0, progress=None, stop=None) -> list[Path]:
    """Compute both sweeps at initialisation and write them as JSON under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sweep = depth_sweep(DEPTHS, seed=seed, progress=progress, stop=stop)
    shattered = shattered_sweep(SHATTERED_DEPTHS, seed=seed, progress=progress, stop=stop)
    paths = [out / SWEEP_FILE, out / SHATTERED_FILE]
    paths[0].write_text(json.dumps({"seed": seed, "results": [_plain(asdict(r)) for r in sweep]}))
    paths[1].write_text(json.dumps({"seed": seed, "results": [_plain(asdict(r)) for r in shattered]}))
    log.info("wrote %s", paths)
    return paths


def load_sweep(folder: str | Path) -> list[SweepResult] | None:
    """The precomputed gradient-norm sweep, or None if it is not there."""
    path = Path(folder) / SWEEP_FILE
    if not path.is_file():
        return None
    return [SweepResult(**r) for r in json.loads(path.read_text())["results"]]


def load_shattered(folder: str | Path) -> list[ShatteredResult] | None:
    """The precomputed shattered-gradients sweep, or None if it is not there."""
    path = Path(folder) / SHATTERED_FILE
    if not path.is_file():
        return None
    out = []
    for r in json.loads(path.read_text())["results"]:
        arrays = {k: np.asarray(v, dtype=np.float64) for k, v in r.items() if k != "name"}
        out.append(ShatteredResult(name=r["name"], **arrays))
    return out


LESION_FILE = "lesion.json"
LESION_TEST_SIZE = 500


def lesion_data(image_size: int, n: int = LESION_TEST_SIZE):
    """Held-out shapes for the lesion study, normalised as the degradation run was trained."""
    from explorer.datasets import load_dataset

    test = load_dataset("shapes", "test", n=n, size=image_size)
    return test.batch(torch.arange(len(test)))


def save_lesions(run_dir: str | Path, out: str | Path, progress=None, stop=None) -> Path:
    """Lesion studies (Veit et al. 2016) of every network of a saved run, as JSON under ``out``."""
    from explorer.experiments.lesion import lesion_study
    from explorer.runs import load_run

    run = load_run(run_dir)
    x, y = lesion_data(run.train.image_size or 32)
    results = [lesion_study(model, (x, y), progress=progress, stop=stop) for model in run.load_models().values()]
    path = Path(out) / LESION_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run": str(run_dir), "results": [_plain(asdict(r)) for r in results]}))
    return path


def load_lesions(folder: str | Path) -> list | None:
    """The precomputed lesion studies (``LesionResult`` list), or None if they are not there."""
    from explorer.experiments.lesion import BlockLesion, LesionResult, RemovalPoint

    path = Path(folder) / LESION_FILE
    if not path.is_file():
        return None
    out = []
    for r in json.loads(path.read_text())["results"]:
        blocks = [BlockLesion(**b) for b in r.pop("blocks")]
        removed = [RemovalPoint(p["k"], [tuple(s) for s in p["subsets"]], p["accuracies"]) for p in r.pop("removed")]
        out.append(LesionResult(**r, blocks=blocks, removed=removed))
    return out
