"""Lock-step training: several networks on the same batches in the same order, recording how gradients flow.

A plain network and its residual twin (He et al. 2015, section 4.2 and Fig. 6), or a depth sweep, see
identical batches, so their curves can be compared step by step. Per step each network records loss,
accuracy, learning rate and the L2 norm of every conv/linear weight's gradient (read from ``p.grad``
after backward, no hooks); every ``record_every`` steps also each block's output and branch norms
(Fig. 7); every ``eval_every`` steps held-out accuracy. See ``explorer.training.recorders`` on reading a
``History`` from another thread while it grows.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from explorer.data.base import ImageDataset
from explorer.data.datasets import load_dataset
from explorer.devices import model_device, pick_device
from explorer.models.config import ResNetConfig
from explorer.models.resnet import block_names, build_resnet, eval_mode
from explorer.progress import Progress  # after each lock-step: done = step, rate = images/s, metrics, history
from explorer.training.config import TrainConfig
from explorer.training.history import History, ModelHistory
from explorer.training.presets import PRESET_MODELS, PRESETS
from explorer.training.recorders import grad_norms, record_responses, weight_layers

log = logging.getLogger(__name__)

EVAL_CHUNK = 500


def build_models(configs: list[ResNetConfig] | tuple[ResNetConfig, ...], seed: int = 0) -> dict[str, nn.Module]:
    """Build each config with one seed (twins then share their weights); keys are ``config.name``."""
    models = {c.name: build_resnet(c, seed=seed) for c in configs}
    if len(models) != len(configs):
        raise ValueError(f"configs must have distinct names, got {[c.name for c in configs]}")
    return models


def models_for_preset(name: str, seed: int = 0, num_classes: int = 10, in_channels: int = 3) -> dict[str, nn.Module]:
    """The networks a preset trains, freshly initialised."""
    if name not in PRESET_MODELS:
        raise ValueError(f"unknown preset {name!r}; presets are {list(PRESET_MODELS)}")
    configs = [replace(c, num_classes=num_classes, in_channels=in_channels) for c in PRESET_MODELS[name]]
    return build_models(configs, seed)


def load_train_data(config: TrainConfig, root=None, download: bool = False) -> tuple[ImageDataset, ImageDataset]:
    """The (train, held-out) datasets a TrainConfig names."""
    kw = dict(root=root, download=download, size=config.image_size, seed=config.seed)
    train = load_dataset(config.dataset, "train", n=config.train_size, **kw)
    held_out = load_dataset(config.dataset, "test", n=config.eval_size or None, **kw)
    return train, held_out


def lr_at(step: int, config: TrainConfig) -> float:
    """Learning rate for 0-based ``step`` of a run of ``config.steps``."""
    if step < config.warmup:
        return config.warmup_lr if config.warmup_lr is not None else config.lr * (step + 1) / config.warmup
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "step":
        return config.lr * 0.1 ** sum(step >= m for m in config.milestones)
    t = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * t))


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def augment_batch(x: torch.Tensor, g: torch.Generator, pad: int = 4) -> torch.Tensor:
    """The paper's augmentation, vectorised: zero-pad by ``pad``, random crop back, random horizontal flip."""
    b, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    dy, dx = torch.randint(0, 2 * pad + 1, (2, b), generator=g)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]  # (B, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]  # (B, 1, 1, W)
    out = xp[torch.arange(b)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
    flip = torch.rand(b, generator=g) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(-1), out)


def batch_indices(n: int, batch_size: int, seed: int, start_step: int = 0):
    """Endless batches of indices: a fresh seeded permutation each epoch, batches never straddle epochs."""
    g = torch.Generator().manual_seed(int(seed) * 7919 + start_step)
    per_epoch = max(1, n // batch_size)
    while True:
        perm = torch.randperm(n, generator=g)
        for i in range(per_epoch):
            yield perm[i * batch_size : (i + 1) * batch_size]


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageDataset, channels_last: bool = False) -> tuple[float, float]:
    """(accuracy, mean loss) on ``data`` in eval mode, on the model's device; the model's mode is restored."""
    device = model_device(model)
    correct, total_loss = 0, 0.0
    with eval_mode(model):
        for idx in torch.arange(len(data)).split(EVAL_CHUNK):
            x, y = (t.to(device) for t in data.batch(idx))
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            out = model(x)
            total_loss += F.cross_entropy(out, y, reduction="sum").item()
            correct += (out.argmax(1) == y).sum().item()
    return correct / len(data), total_loss / len(data)


def _new_history(name: str, model: nn.Module) -> ModelHistory:
    config = asdict(model.config) if hasattr(model, "config") else {}
    blocks = block_names(model)
    return ModelHistory(name, config, [n for n, _ in weight_layers(model)], blocks)


def train_lockstep(
    models: dict[str, nn.Module],
    data: ImageDataset,
    config: TrainConfig,
    eval_data: ImageDataset | None = None,
    progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    history: History | None = None,
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
    resume: bool = False,
    device: str | torch.device | None = "auto",
) -> History:
    """Train ``models`` (in place) for ``config.steps`` lock-steps on identical batches.

    Args:
        models: name -> network (trained in place: pass copies to keep the originals).
        data: training images; eval_data: held-out images (None: no held-out accuracy).
        progress: called after every step with a ``Progress``.
        stop: checked before every step; when set, training ends with ``stopped_reason="stopped"``.
        history: append to this one (live polling from another thread, or extending a run); step
            numbers continue from ``history.step``.
        optimizers: name -> optimizer to continue with (from a checkpoint); missing ones are created
            and added to this dict, so a caller can save their state afterwards.
        resume: continue a run of ``config.steps`` from ``history.step`` on its own schedule (a checkpoint
            of an interrupted run) instead of adding ``config.steps`` more steps.
        device: where to train ("auto": CUDA, then MPS, then CPU; see ``explorer.devices``); each network
            goes back to its own device afterwards, so callers and saved runs never see the difference.
    Returns:
        the ``History``; a network whose loss or gradients go non-finite stops with a reason, the others go on.
    """
    if not models:
        raise ValueError("models must name at least one network")
    history = history if history is not None else History()
    offset = history.step
    first = offset if resume else 0  # the step of the schedule this call starts at
    steps = config.steps - first
    history.total_steps = offset + steps
    history.finished, history.stopped_reason = False, None
    optimizers = optimizers if optimizers is not None else {}
    device = pick_device(device)
    homes = {name: model_device(model) for name, model in models.items()}
    for model in models.values():
        model.to(device)  # in place: an optimizer made before (from a checkpoint) keeps its parameters
    for opt in optimizers.values():
        _optimizer_to(opt, device)
    try:
        return _train(models, data, config, eval_data, progress, stop, history, optimizers, device, first)
    finally:
        for name, model in models.items():
            model.to(homes[name])
        for name, opt in optimizers.items():
            if name in homes:
                _optimizer_to(opt, homes[name])


def _optimizer_to(opt: torch.optim.Optimizer, device: torch.device) -> None:
    """Move an optimizer's state (momentum buffers, Adam moments) next to its parameters."""
    for per_param in opt.state.values():
        for key, value in per_param.items():
            if isinstance(value, torch.Tensor) and value.ndim > 0:  # AdamW's step counter stays on the CPU
                per_param[key] = value.to(device)


def _train(models, data, config, eval_data, progress, stop, history, optimizers, device, first) -> History:
    """The lock-step loop of ``train_lockstep``, with every network already on ``device``."""
    offset = history.step
    nets = _prepare(models, config, history, optimizers)
    if offset == 0:  # step-0 weights, saved with the run (explorer.training.runs) for the init-to-trained line
        history.initial_states = {
            k: {n: t.detach().to("cpu", copy=True).contiguous() for n, t in m.state_dict().items()}
            for k, m in models.items()
        }
    batches = _batches(data, config, offset, device)
    start = time.perf_counter()
    for i in range(first, config.steps):
        if stop is not None and stop.is_set():
            history.stopped_reason = "stopped"
            log.info("training stopped after %d steps", i - first)
            break
        step = offset + i - first + 1
        x, y = next(batches)
        lr = lr_at(i, config)
        record = config.record_every > 0 and (i % config.record_every == 0 or i == config.steps - 1)
        metrics = {}
        for name, net in list(nets.items()):
            reason = _train_step(net, x, y, lr, step, record)
            if reason is None:
                metrics[name] = {"loss": net.history.loss[-1], "accuracy": net.history.accuracy[-1], "lr": lr}
            else:
                log.warning("%s stopped: %s", name, reason)
                net.history.stopped_reason, net.history.stopped_step = reason, step
                del nets[name]
        if (
            eval_data is not None
            and config.eval_every > 0
            and ((i + 1) % config.eval_every == 0 or i + 1 == config.steps)
        ):
            _evaluate_all(nets, eval_data, step, config.channels_last)
        _report(history, config, i, first, step, start, metrics, progress)
        if not nets:
            log.warning("every network stopped at step %d", step)
            break
    history.wall_s += time.perf_counter() - start
    history.finished = True
    if config.channels_last:
        for model in models.values():
            model.to(memory_format=torch.contiguous_format)
    return history


@dataclass
class _Net:
    """One network being trained: the model, its optimizer, its conv/linear weights and its records."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    weights: list[nn.Parameter]
    history: ModelHistory


def _prepare(
    models: dict[str, nn.Module], config: TrainConfig, history: History, optimizers: dict[str, torch.optim.Optimizer]
) -> dict[str, _Net]:
    """Train mode, an optimizer (given or new) and a history for every network that has not stopped before."""
    nets = {}
    for name, model in models.items():
        h = history.models.setdefault(name, _new_history(name, model))
        if h.stopped_reason is not None:
            continue
        if config.channels_last:
            model.to(memory_format=torch.channels_last)
        model.train()
        optimizers[name] = optimizers.get(name) or make_optimizer(model, config)
        nets[name] = _Net(model, optimizers[name], [w for _, w in weight_layers(model)], h)
    return nets


def _batches(
    data: ImageDataset, config: TrainConfig, offset: int, device: torch.device
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless (images, labels) batches on ``device``, augmented and laid out as the config says; the same
    batches for every network, on any device."""
    aug_gen = torch.Generator().manual_seed(int(config.seed) + 17 + offset)
    for idx in batch_indices(len(data), config.batch_size, config.seed, offset):
        x, y = data.batch(idx)
        if config.augment:
            x = augment_batch(x, aug_gen)  # on the CPU, with its CPU generator
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        yield x, y


def _train_step(net: _Net, x: torch.Tensor, y: torch.Tensor, lr: float, step: int, record: bool) -> str | None:
    """One optimisation step of one network, recorded in its history; the reason it must stop, or None."""
    for group in net.optimizer.param_groups:
        group["lr"] = lr
    with record_responses(net.model) if record else nullcontext() as found:
        out = net.model(x)
    loss = F.cross_entropy(out, y)
    loss_value = loss.item()
    if not math.isfinite(loss_value):
        return f"non-finite loss ({loss_value}) at step {step}"
    net.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norms = grad_norms(net.weights)
    if not all(map(math.isfinite, norms)):
        return f"non-finite gradient at step {step}"
    net.optimizer.step()
    h = net.history
    h.loss.append(loss_value)
    h.accuracy.append((out.argmax(1) == y).float().mean().item())
    h.lr.append(lr)
    h.grad_norms.append(norms)
    if record:
        h.append_responses(step, found)
    h.step.append(step)  # last: readers align on len(step)
    return None


def _evaluate_all(nets: dict[str, _Net], eval_data: ImageDataset, step: int, channels_last: bool) -> None:
    """Held-out accuracy and loss of every running network, recorded at ``step``."""
    for net in nets.values():
        acc, loss_value = evaluate(net.model, eval_data, channels_last)
        net.history.eval_loss.append(loss_value)
        net.history.eval_accuracy.append(acc)
        net.history.eval_step.append(step)


def _report(
    history: History,
    config: TrainConfig,
    i: int,
    first: int,
    step: int,
    start: float,
    metrics: dict[str, dict[str, float]],
    progress: Callable[[Progress], None] | None,
) -> None:
    """Step count and speed into the history, then a ``Progress`` to the callback."""
    elapsed = time.perf_counter() - start
    history.step = step
    done = i - first + 1  # steps this call has run (a resumed run starts at step ``first`` of its schedule)
    history.images_per_s = done * config.batch_size / elapsed if elapsed > 0 else 0.0
    if progress is not None:
        eta = elapsed / done * (config.steps - i - 1)
        progress(Progress(step, history.total_steps, history.images_per_s, eta, elapsed, metrics, history))


def train_preset(
    name: str,
    seed: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    **overrides,
) -> tuple[dict[str, nn.Module], History, TrainConfig]:
    """Build a preset's networks and data and train them; ``overrides`` replace TrainConfig fields."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; presets are {list(PRESETS)}")
    config = replace(PRESETS[name], **overrides, **({} if seed is None else {"seed": seed}))
    train, held_out = load_train_data(config)
    models = models_for_preset(name, config.seed, train.info.num_classes, train.info.in_channels)
    history = train_lockstep(models, train, config, held_out, progress)
    return models, history, config
