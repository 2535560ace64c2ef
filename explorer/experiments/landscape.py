"""Loss landscapes after Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets" (NeurIPS), and the
init-to-trained line of Goodfellow et al. 2015, "Qualitatively Characterizing Neural Network Optimization
Problems" (ICLR).

Two random Gaussian directions in weight space, *filter-normalised*: every filter of every convolution
(one output channel) and every row of the linear layer is rescaled to the norm of the same filter of the
trained weights; biases and batch-norm parameters get zero (the paper's ``ignore='biasbn'``) and batch-norm
running statistics stay fixed (evaluation mode). The loss at theta + a*d1 + b*d2 is measured on a fixed
subset of training images, the same images in the same order for every point.

Everything runs on a copy of the network: the given model, which may be a cached one shared by every
session, is never modified, also when the work fails or is stopped. One point is one evaluation of the
subset in batches, in channels_last; ``bench/bench_landscape.py`` measured this against stacking several
points with ``torch.func.vmap`` (slower on CPU: the batched weights become grouped convolutions).
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.experiments.landscape_records import Landscape, LossLine
from explorer.progress import Progress  # after each point: rate = points/s

Directions = dict[str, torch.Tensor]
EVAL_BATCH = 256
LINES = ("init", "direction")
PRECISIONS = ("float32", "bfloat16")  # bfloat16: CPU autocast, about twice as fast, losses to ~3 digits


def filter_normalized_direction(model: nn.Module, generator: torch.Generator) -> Directions:
    """One random Gaussian direction, filter-normalised (Li et al. 2018, section 4).

    Every parameter with more than one dimension (conv weights, the linear weight) gets a direction whose
    filters (slices along dim 0) have the norms of the model's filters; 1-D parameters (biases, batch-norm
    scale and shift) get zeros.
    """
    d: Directions = {}
    for name, p in model.named_parameters():
        if p.dim() <= 1:
            d[name] = torch.zeros_like(p, memory_format=torch.contiguous_format)
            continue
        r = torch.randn(p.shape, generator=generator, dtype=p.dtype)
        w = p.detach().reshape(len(p), -1)
        scale = w.norm(dim=1) / (r.reshape(len(r), -1).norm(dim=1) + 1e-10)  # (filters,)
        d[name] = r * scale.view(-1, *([1] * (p.dim() - 1)))
    return d


def random_directions(model: nn.Module, seed: int = 0) -> tuple[Directions, Directions]:
    """Two filter-normalised directions from one seed (the same seed gives the same pair)."""
    g = torch.Generator().manual_seed(int(seed))
    return filter_normalized_direction(model, g), filter_normalized_direction(model, g)


class _Evaluator:
    """A private copy of the network whose weights are set per point; the caller's model is never touched."""

    def __init__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_norm: str = "running",
        precision: str = "float32",
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.precision = precision
        if x.ndim != 4 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
            raise ValueError(f"expected images (N, C, H, W) and labels (N,), got {tuple(x.shape)}, {tuple(y.shape)}")
        self.model = copy.deepcopy(model)
        for p in self.model.parameters():
            p.requires_grad_(False)
        # "running": evaluation mode, fixed running statistics (Li et al.); "batch": the subset's own
        # statistics, as in training, for weights that have no running statistics yet (the initial ones).
        self.model.train(batch_norm == "batch")
        self.batch_norm = batch_norm
        self.model.to(memory_format=torch.channels_last)
        self.params = dict(self.model.named_parameters())
        self.x, self.y = x.contiguous(memory_format=torch.channels_last), y

    @torch.no_grad()
    def set_weights(self, base: Directions, *terms: tuple[float, Directions]) -> None:
        """Weights = base + sum(coef * direction)."""
        for name, p in self.params.items():
            p.copy_(base[name])
            for coef, d in terms:
                if coef != 0.0:
                    p.add_(d[name], alpha=coef)

    @torch.inference_mode()
    def loss(self) -> float:
        """Mean cross-entropy over the subset (one batch when batch-norm uses the subset's statistics)."""
        size = len(self.x) if self.batch_norm == "batch" else EVAL_BATCH
        total = 0.0
        for i in range(0, len(self.x), size):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bfloat16"):
                out = self.model(self.x[i : i + size])
            total += F.cross_entropy(out.float(), self.y[i : i + size], reduction="sum").item()
        return total / len(self.x)


def _weights(model: nn.Module) -> Directions:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def _run_points(
    points: list[tuple[float, ...]],
    evaluate: Callable[[tuple[float, ...]], float],
    progress: Callable[[Progress], None] | None,
    stop: threading.Event | None,
) -> tuple[list[float], bool, float]:
    """Evaluate each point in order; (losses, NaN after a stop; complete; wall seconds)."""
    losses = [math.nan] * len(points)
    start = time.perf_counter()
    for i, point in enumerate(points):
        if stop is not None and stop.is_set():
            return losses, False, time.perf_counter() - start
        losses[i] = evaluate(point)
        if progress is not None:
            elapsed = time.perf_counter() - start
            rate = (i + 1) / elapsed if elapsed > 0 else 0.0
            progress(Progress(i + 1, len(points), rate, (len(points) - i - 1) / rate if rate else 0.0, elapsed))
    return losses, True, time.perf_counter() - start


def _name(model: nn.Module, network: str | None) -> str:
    return network or getattr(getattr(model, "config", None), "name", type(model).__name__)


def loss_surface(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    grid: int = 21,
    span: float = 1.0,
    seed: int = 0,
    progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    network: str | None = None,
    precision: str = "float32",
) -> Landscape:
    """Loss at theta + a*d1 + b*d2 for a, b on a ``grid`` x ``grid`` lattice over [-span, span]^2.

    Args:
        model: the trained network (not modified; evaluated in eval mode on a copy).
        x, y: the fixed image subset (N, C, H, W) and its labels (N,).
        seed: seeds the two filter-normalised directions.
        progress: called after every point; stop: when set, returns what is done with ``complete=False``.
    Returns:
        a ``Landscape`` (``loss`` has one row per y value).
    """
    if grid < 2:
        raise ValueError(f"grid must be at least 2, got {grid}")
    if not span > 0:
        raise ValueError(f"span must be positive, got {span}")
    work = _Evaluator(model, x, y, precision=precision)
    theta = _weights(work.model)
    d1, d2 = random_directions(work.model, seed)
    center = work.loss()
    coords = np.linspace(-span, span, grid).tolist()

    def evaluate(point: tuple[float, ...]) -> float:
        work.set_weights(theta, (point[0], d1), (point[1], d2))
        return work.loss()

    points = [(a, b) for b in coords for a in coords]
    losses, complete, wall = _run_points(points, evaluate, progress, stop)
    loss = np.asarray(losses, dtype=np.float64).reshape(grid, grid)
    name = _name(model, network)
    return Landscape(name, coords, coords, loss, center, len(x), seed, span, complete, wall, precision)


def direction_line(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    points: int = 21,
    span: float = 1.0,
    seed: int = 0,
    progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    network: str | None = None,
    precision: str = "float32",
) -> LossLine:
    """Loss at theta + a*d1 for a in [-span, span]: the surface's centre row (the same d1 for the same seed)."""
    work = _Evaluator(model, x, y, precision=precision)
    theta = _weights(work.model)
    d1, _ = random_directions(work.model, seed)
    alphas = np.linspace(-span, span, points).tolist()

    def evaluate(point: tuple[float, ...]) -> float:
        work.set_weights(theta, (point[0], d1))
        return work.loss()

    losses, complete, wall = _run_points([(a,) for a in alphas], evaluate, progress, stop)
    return LossLine(_name(model, network), "direction", alphas, losses, len(x), seed, complete, wall, "", precision)


def init_line(
    initial: nn.Module,
    trained: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    points: int = 21,
    progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    network: str | None = None,
    precision: str = "float32",
) -> LossLine:
    """Loss along the straight line (1 - alpha) * initial + alpha * trained, alpha in [0, 1] (Goodfellow et al.).

    Batch norm uses the subset's own statistics at every alpha, as in training: the initial weights have
    no running statistics yet (their loss in evaluation mode would mean nothing).
    """
    names = [n for n, _ in trained.named_parameters()]
    if names != [n for n, _ in initial.named_parameters()]:
        raise ValueError("the initial and trained networks have different parameters")
    work = _Evaluator(trained, x, y, batch_norm="batch", precision=precision)
    start, end = _weights(initial), _weights(work.model)
    delta = {k: end[k] - start[k] for k in names}
    alphas = np.linspace(0.0, 1.0, points).tolist()

    def evaluate(point: tuple[float, ...]) -> float:
        if point[0] == 1.0:  # exactly the trained weights, not start + (end - start)
            work.set_weights(end)
        else:
            work.set_weights(start, (point[0], delta))
        return work.loss()

    losses, complete, wall = _run_points([(a,) for a in alphas], evaluate, progress, stop)
    note = "batch norm uses the statistics of the image subset at every point, as in training"
    return LossLine(_name(trained, network), "init", alphas, losses, len(x), 0, complete, wall, note, precision)


def training_subset(run, images: int = 256, seed: int = 0, data_root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``images`` training images of a run (``explorer.training.runs.Run``), chosen by ``seed``, normalised as in training."""
    from explorer.training.lockstep import load_train_data

    train, _ = load_train_data(run.train, root=data_root)
    if not 1 <= images <= len(train):
        raise ValueError(f"images must be between 1 and {len(train)} (the run's training images), got {images}")
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(int(seed)))[:images]
    return train.batch(idx.sort().values)


def rebuild_initial_weights(run_dir: str | Path) -> list[Path]:
    """Write the step-0 weights of a run saved before runs kept them, rebuilt exactly as the trainer builds them.

    ``explorer.training.lockstep.build_models`` with the seed of the run's first training: initialisation depends only
    on each network's config, the seed and the layer names (``explorer.models.resnet.init_weights``).
    """
    import json

    from explorer.training.lockstep import build_models
    from explorer.training.runs import load_run

    run = load_run(run_dir)
    seed = run.meta.get("first_train", run.meta["train"])["seed"]
    models = build_models(list(run.model_configs.values()), seed=seed)
    meta, written = run.meta, []
    for name, config in run.model_configs.items():
        entry = meta["models"][name]
        entry["initial"] = entry["checkpoint"].removesuffix(".pt") + ".init.pt"
        torch.save(models[config.name].state_dict(), run.path / entry["initial"])
        written.append(run.path / entry["initial"])
    (run.path / "config.json").write_text(json.dumps(meta, indent=2))
    return written


def run_landscape(
    run_dir: str | Path,
    network: str,
    grid: int = 21,
    span: float = 1.0,
    images: int = 256,
    seed: int = 0,
    line: str | None = None,
    progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    data_root=None,
    precision: str = "float32",
) -> Landscape | LossLine:
    """The landscape (or, with ``line``, a 1-D line) of one network of a saved run: what the CLI and pages call."""
    from explorer.training.runs import load_run

    if line is not None and line not in LINES:
        raise ValueError(f"line must be one of {LINES}, got {line!r}")
    run = load_run(run_dir)
    if network not in run.model_configs:
        raise ValueError(f"no network {network!r} in {Path(run_dir).name}; it has {list(run.model_configs)}")
    model = run.load_models()[network]
    x, y = training_subset(run, images, seed, data_root)
    if line == "init":
        initial = run.load_initial(network)
        if initial is None:
            raise ValueError(f"{Path(run_dir).name} has no step-0 weights for {network} (runs saved before they were)")
        return init_line(initial, model, x, y, grid, progress, stop, network, precision)
    if line == "direction":
        return direction_line(model, x, y, grid, span, seed, progress, stop, network, precision)
    return loss_surface(model, x, y, grid, span, seed, progress, stop, network, precision)


def landscape_job(run_dir: str | Path, network: str, **options) -> Callable:
    """``run_landscape`` as a job body ``(progress, stop) -> result``, for a job queue or engine."""

    def work(progress: Callable[[Progress], None] | None = None, stop: threading.Event | None = None):
        return run_landscape(run_dir, network, progress=progress, stop=stop, **options)

    return work
