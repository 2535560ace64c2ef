"""Results the app shows at once, computed in advance by ``python -m explorer precompute`` into assets/.

The gradient-norm depth sweep and the shattered-gradients sweep at initialisation take tens of seconds
on a laptop CPU, too long for a landing page; the same functions re-run them live on request. Loading them
needs no torch (the Learn page, the first one drawn, shows them without it).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from explorer.interpret.gradient_results import ShatteredResult, SweepResult
from explorer.models.config import CIFAR_PRESETS
from explorer.training.jsonable import nan_for_none, to_json

log = logging.getLogger(__name__)

SWEEP_FILE = "gradient_sweep.json"
SHATTERED_FILE = "shattered.json"
DEPTHS = CIFAR_PRESETS
SHATTERED_DEPTHS = (20, 56, 110)
SHATTERED_ARRAYS = ("t", "grad", "acf", "cosine")  # the other fields (name, residual) stay as JSON wrote them


def save_sweeps(out: str | Path, seed: int = 0, progress=None) -> list[Path]:
    """Compute both sweeps at initialisation and write them as JSON under ``out``."""
    from explorer.interpret.gradients import depth_sweep, shattered_sweep  # torch: the loaders below run without it

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sweep = depth_sweep(DEPTHS, seed=seed, progress=progress, preact=(False, True))  # 2015 and 2016 blocks
    shattered = shattered_sweep(SHATTERED_DEPTHS, seed=seed, progress=progress)
    paths = write_sweeps(out, sweep, shattered, seed)
    log.info("wrote %s", paths)
    return paths


def write_sweeps(out: Path, sweep: list[SweepResult], shattered: list[ShatteredResult], seed: int = 0) -> list[Path]:
    """Both sweeps as standard JSON under ``out`` (nan written as null)."""
    paths = [out / SWEEP_FILE, out / SHATTERED_FILE]
    paths[0].write_text(json.dumps({"seed": seed, "results": [to_json(r) for r in sweep]}))
    paths[1].write_text(json.dumps({"seed": seed, "results": [to_json(r) for r in shattered]}))
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
        arrays = {k: np.asarray(nan_for_none(r[k]), dtype=np.float64) for k in SHATTERED_ARRAYS}
        out.append(ShatteredResult(name=r["name"], residual=r.get("residual"), **arrays))
    return out


ZERO_GAMMA_FILE = "zero_gamma.json"


def zero_gamma_ratios(depth: int = 20, seed: int = 0) -> dict[str, list[tuple[str, float]]]:
    """||F(x)|| / ||shortcut(x)|| per block of a freshly initialised ResNet-``depth``, with the standard batch-norm scale
    (``"standard"``, gamma = 1) and with zero-gamma (``"zero_gamma"``, Goyal et al. 2017); batch-norm statistics
    from one shapes batch (``gradients.calibrate_bn``), as in training."""
    from explorer.interpret.gradients import calibrate_bn, shapes_batch
    from explorer.interpret.probes import branch_ratios
    from explorer.models.config import ResNetConfig
    from explorer.models.resnet import build_resnet

    x, _ = shapes_batch(32)
    out = {}
    for key, zero in (("standard", False), ("zero_gamma", True)):
        model = calibrate_bn(build_resnet(ResNetConfig("cifar", depth, zero_init_residual=zero), seed=seed), x)
        out[key] = [(name, float(r)) for name, r in branch_ratios(model, x)]
    return out


def save_zero_gamma(out: str | Path, depth: int = 20, seed: int = 0) -> Path:
    """``zero_gamma_ratios`` as JSON under ``out``: the Learn page shows it without computing at start-up."""
    path = Path(out) / ZERO_GAMMA_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"depth": depth, "seed": seed, "ratios": zero_gamma_ratios(depth, seed)}))
    return path


def load_zero_gamma(folder: str | Path, depth: int = 20) -> dict[str, list[tuple[str, float]]] | None:
    """The precomputed ``zero_gamma_ratios`` for ``depth``, or None if it is not there."""
    path = Path(folder) / ZERO_GAMMA_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if data.get("depth") != depth:
        return None
    return {k: [(name, float(r)) for name, r in v] for k, v in data["ratios"].items()}


LESION_FILE = "lesion.json"
LESION_TEST_SIZE = 500


def lesion_data(image_size: int, n: int = LESION_TEST_SIZE):
    """Held-out shapes for the lesion study, normalised as the degradation run was trained."""
    import torch

    from explorer.data.datasets import load_dataset

    test = load_dataset("shapes", "test", n=n, size=image_size)
    return test.batch(torch.arange(len(test)))


def save_lesions(run_dir: str | Path, out: str | Path, progress=None) -> Path:
    """Lesion studies (Veit et al. 2016) of every network of a saved run, as JSON under ``out``."""
    from explorer.experiments.lesion import lesion_study
    from explorer.training.runs import load_run

    run = load_run(run_dir)
    x, y = lesion_data(run.train.image_size or 32)
    results = [lesion_study(model, (x, y), progress=progress) for model in run.load_models().values()]
    path = Path(out) / LESION_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run": str(run_dir), "results": [to_json(r) for r in results]}))
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


RESPONSES_FILE = "layer_responses.json"
RESPONSES_IMAGES = 256


def layer_responses_of(run_dir: str | Path) -> list[tuple[str, bool, int, list[float]]]:
    """He et al. 2015, Fig. 7 for every network of a saved run: (network, residual, depth, the std of every 3x3
    layer's response in forward order) on ``RESPONSES_IMAGES`` held-out shapes."""
    from explorer.interpret.probes import layer_responses
    from explorer.training.runs import load_run

    run = load_run(run_dir)
    x, _ = lesion_data(run.train.image_size or 32, n=RESPONSES_IMAGES)
    out = []
    for label, model in run.load_models().items():
        _, stds = layer_responses(model, x)
        out.append((label, model.config.residual, model.config.depth, stds.tolist()))
    return out


def save_layer_responses(run_dirs, out: str | Path) -> Path:
    """``layer_responses_of`` each run, by its folder's name, as JSON under ``out`` (the Inside page's Fig. 7:
    about 7 CPU-s for the two degradation runs, which its first visitor would otherwise wait for)."""
    data = {Path(d).name: layer_responses_of(d) for d in run_dirs}
    path = Path(out) / RESPONSES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def load_layer_responses(folder: str | Path) -> dict[str, list[tuple[str, bool, int, list[float]]]]:
    """The precomputed Fig. 7 responses by run name (empty if the file is not there)."""
    path = Path(folder) / RESPONSES_FILE
    if not path.is_file():
        return {}
    return {run: [tuple(r) for r in rows] for run, rows in json.loads(path.read_text()).items()}


NETWORK_COSTS_FILE = "network_costs.json"


def learn_networks() -> list:
    """The networks whose parameters and multiply-accumulates the Learn page quotes: ResNet-20 with shortcut A
    and B, the paper's CIFAR depths and torchvision's ImageNet depths."""
    from explorer.models.config import IMAGENET_BLOCKS, ResNetConfig

    return [
        ResNetConfig("cifar", 20, shortcut="A"),
        ResNetConfig("cifar", 20, shortcut="B"),
        *(ResNetConfig("cifar", d) for d in CIFAR_PRESETS),
        *(ResNetConfig("imagenet", d) for d in IMAGENET_BLOCKS),
    ]


def cost_key(config) -> str:
    """A network's key in the costs asset: every field of its config."""
    from dataclasses import asdict

    return json.dumps(asdict(config), sort_keys=True)


def network_costs(configs) -> dict[str, tuple[int, int]]:
    """(parameters, multiply-accumulates at the family's input size) per network, counted by ``summarize_config``."""
    from explorer.models.summary import summarize_config

    return {cost_key(c): (s.params, s.macs) for c in configs for s in [summarize_config(c)]}


def save_network_costs(out: str | Path) -> Path:
    """``network_costs`` of the Learn page's networks as JSON under ``out``: eleven summaries not counted at start-up."""
    path = Path(out) / NETWORK_COSTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(network_costs(learn_networks()), indent=0))
    return path


BLOCK_COSTS_FILE = "block_costs.json"


def save_block_costs(out: str | Path) -> Path:
    """``misconceptions.block_costs`` as JSON under ``out``: the Learn page's myths (in Chinese) quote them without
    importing torch."""
    from explorer.experiments.misconceptions import block_costs

    path = Path(out) / BLOCK_COSTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([to_json(c) for c in block_costs()]))
    return path


def load_block_costs(folder: str | Path) -> list | None:
    """The precomputed ``block_costs`` (``BlockCost`` list), or None if they are not there."""
    from explorer.experiments.misconceptions import BlockCost

    path = Path(folder) / BLOCK_COSTS_FILE
    if not path.is_file():
        return None
    return [BlockCost(**c) for c in json.loads(path.read_text())]


def load_network_costs(folder: str | Path) -> dict[str, tuple[int, int]]:
    """The precomputed ``network_costs`` (empty if the asset is not there)."""
    path = Path(folder) / NETWORK_COSTS_FILE
    if not path.is_file():
        return {}
    return {k: (int(p), int(m)) for k, (p, m) in json.loads(path.read_text()).items()}
