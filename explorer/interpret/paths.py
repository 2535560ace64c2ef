"""The gradient by path length, after Veit, Wilber and Belongie 2016, "Residual Networks Behave Like Ensembles of
Relatively Shallow Networks" (NeurIPS), section 5 and Fig. 6.

A network of n residual blocks unrolls into 2^n paths: each block is crossed either through its residual branch
F or through its shortcut, and a path's length k is the number of branches it crosses; C(n, k) paths have length k.
Veit et al. measure the gradient a path of length k carries: forward a batch through the whole network as usual,
then in the backward pass let the gradient cross k randomly chosen blocks through F only and the other n - k
through the shortcut only. What reaches the input is the gradient of one path of length k.

This is a *masked backward pass*, not a rewritten network. Hooks put a gate on the two summands of every block's
addition, F(x) and shortcut(x): the forward value passes unchanged, and in the backward pass each gate multiplies
the incoming gradient by 0 or 1, read per sample from the current mask when the backward pass reaches it. One
forward pass serves several backward passes (``retain_graph``), each with fresh masks, one per sample.

What the split does where the block's own ops complicate it:
- The 2015 block ends with a ReLU after the addition: relu(F(x) + shortcut(x)). The gates sit on the two summands,
  below the ReLU, so both receive the same relu'(F(x) + shortcut(x)) * g. That derivative is fixed by the forward
  pass of the whole network: the split is exact *given the forward's ReLU pattern*, which every path shares. A path
  is therefore a term of the network's gradient, not a smaller network one could run on its own.
- Option-A shortcuts where a stage begins subsample and zero-pad: the padded channels carry no gradient through the
  shortcut (the padding's derivative is 0), so there a shortcut-only crossing reaches only the first channels and
  every fourth pixel, as the forward pass does.
- The 2016 pre-activation block has nothing after the addition: x + F(x) is linear in its two summands. Where its
  shape changes, its first BN and ReLU feed both the branch and the projection (or option A); the gates sit after
  them, on the addition's summands, so both crossings pass through that shared BN-ReLU.
Since the backward pass is linear in the gradient it carries, the gradients of all 2^n masks add up to the
ordinary gradient (the test enumerates them on an 8-layer network).

The gradient is measured at the input of the first residual block (the stem's output): every path starts there,
while the stem itself is crossed by every path alike and would only rescale all of them. Its Euclidean norm per
image, for the cross-entropy of that image's own label (BN uses running statistics, so images do not mix).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from math import comb

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.interpret.gradients import shadow_copy
from explorer.models.blocks import Bottleneck, ResidualBlock
from explorer.models.preact import PreActBottleneck
from explorer.progress import ProgressFn
from explorer.training.jsonable import nan_for_none, to_json

SHARE = 0.9  # the effective range holds this share of the total gradient

NO_PATHS = (
    "{name} has no residual blocks: a plain network has one path, through every layer, so there is nothing to split"
)


@dataclass
class PathResult:
    """The gradient by path length of one network: per length k = 0..n (``blocks``)."""

    network: str
    blocks: int
    samples: int
    seed: int
    residual_blocks: str  # "2015" or "2016"
    paths: list[int]  # C(n, k), exact
    mean: list[float]  # mean gradient norm of one path of length k
    se: list[float]  # its standard error
    count: list[int]  # measurements per length
    total: list[float] = field(default_factory=list)  # paths * mean, normalised to sum 1
    effective_range: tuple[int, int] = (0, 0)
    measured_at: str = "the first residual block's input (the stem's output)"

    def __post_init__(self) -> None:
        if not self.total:
            self.total = normalised_totals(self.paths, self.mean)
            self.effective_range = effective_range(self.total)
        self.effective_range = tuple(self.effective_range)

    @property
    def share_shorter_than_half(self) -> float:
        """The share of the total gradient carried by paths shorter than n / 2."""
        return float(sum(t for k, t in enumerate(self.total) if k < self.blocks / 2))

    def to_dict(self) -> dict:
        """The CLI's JSON (nan as None): network, blocks, samples, seed, per length its paths, grad_per_path, total."""
        lengths = [
            {"k": k, "paths": p, "grad_per_path": {"mean": m, "se": s, "n": c}, "total": t}
            for k, (p, m, s, c, t) in enumerate(
                zip(self.paths, self.mean, self.se, self.count, self.total, strict=True)
            )
        ]
        return to_json(
            {
                "network": self.network,
                "blocks": self.blocks,
                "samples": self.samples,
                "seed": self.seed,
                "residual_blocks": self.residual_blocks,
                "measured_at": self.measured_at,
                "lengths": lengths,
                "effective_range": list(self.effective_range),
                "share_shorter_than_half": self.share_shorter_than_half,
            }
        )

    @classmethod
    def from_dict(cls, d: dict) -> PathResult:
        """The inverse of ``to_dict`` (after ``json``: None read back as nan)."""
        rows = nan_for_none(d["lengths"])
        return cls(
            network=d["network"],
            blocks=d["blocks"],
            samples=d["samples"],
            seed=d["seed"],
            residual_blocks=d["residual_blocks"],
            paths=[r["paths"] for r in rows],
            mean=[r["grad_per_path"]["mean"] for r in rows],
            se=[r["grad_per_path"]["se"] for r in rows],
            count=[r["grad_per_path"]["n"] for r in rows],
            total=[r["total"] for r in rows],
            effective_range=tuple(d["effective_range"]),
            measured_at=d["measured_at"],
        )


def normalised_totals(paths: list[int], mean: list[float]) -> list[float]:
    """paths * mean per length, normalised to sum 1 (float arithmetic: C(110, 55) is about 1e32)."""
    raw = np.array([float(p) * m if p else 0.0 for p, m in zip(paths, mean, strict=True)])
    s = raw.sum()
    return (raw / s).tolist() if s > 0 else raw.tolist()


def effective_range(total: list[float], share: float = SHARE) -> tuple[int, int]:
    """The shortest range of lengths [a, b] whose totals hold ``share`` of the sum (the larger sum among ties)."""
    t = np.asarray(total, dtype=np.float64)
    need = share * t.sum() - 1e-12
    best = (0, len(t) - 1)
    best_key = (len(t), -t.sum())
    for a in range(len(t)):
        run = 0.0
        for b in range(a, len(t)):
            run += t[b]
            if run >= need:
                key = (b - a, -run)
                if key < best_key:
                    best, best_key = (a, b), key
                break
    return best


def _branch_ends(block: ResidualBlock) -> tuple[nn.Module, nn.Module]:
    """(the first module of F, the last): F's output is the addition's first summand."""
    if block.preact:
        return block.bn1, block.conv3 if isinstance(block, PreActBottleneck) else block.conv2
    return block.conv1, block.bn3 if isinstance(block, Bottleneck) else block.bn2


class _Masks:
    """The gates' current masks, (B, n) of 0/1: 1 lets the gradient cross block i through F, 0 through the
    shortcut. ``None`` opens both gates (the ordinary gradient)."""

    def __init__(self) -> None:
        self.masks: torch.Tensor | None = None

    def factor(self, i: int, branch: bool, g: torch.Tensor) -> torch.Tensor:
        if self.masks is None:
            return g
        m = self.masks[:, i].to(g.dtype).view(-1, *([1] * (g.ndim - 1)))  # (B, 1, 1, 1)
        return g * (m if branch else 1 - m)


def _gated(t: torch.Tensor, masks: _Masks, i: int, branch: bool) -> torch.Tensor:
    """``t`` unchanged forwards; backwards, its gradient times block i's gate, read when the backward pass comes."""
    out = t.view_as(t)
    out.register_hook(lambda g: masks.factor(i, branch, g))
    return out


@contextmanager
def path_gates(model: nn.Module, masks: _Masks, inputs: dict) -> Iterator[None]:
    """Gate both summands of every residual block's addition; ``inputs["x"]`` becomes the first block's input, a leaf
    the gradient is measured at. All hooks are removed in ``finally``."""
    handles = []
    blocks = [b for _, b in model.blocks()]

    def block_hooks(i: int, block: ResidualBlock) -> None:
        first, last = _branch_ends(block)
        seen = {}

        def enter(module, args):
            (x,) = args
            if i == 0:
                x = x.detach().requires_grad_(True)
                inputs["x"] = x
            seen["x"] = x
            if block.downsample is None:  # identity: the shortcut summand is the input itself, gated here ...
                return (_gated(x, masks, i, branch=False),)
            return (x,)

        def branch_in(module, args):  # ... while F reads the ungated input
            return (seen["x"],) if block.downsample is None else None

        handles.append(block.register_forward_pre_hook(enter))
        handles.append(first.register_forward_pre_hook(branch_in))
        handles.append(last.register_forward_hook(lambda m, a, out: _gated(out, masks, i, branch=True)))
        if block.downsample is not None:
            hook = block.downsample.register_forward_hook(lambda m, a, out: _gated(out, masks, i, branch=False))
            handles.append(hook)

    try:
        for i, block in enumerate(blocks):
            block_hooks(i, block)
        yield
    finally:
        for h in handles:
            h.remove()


def require_residual(model: nn.Module) -> None:
    """Raise ValueError, in one plain line, for a network without residual blocks."""
    blocks = list(model.blocks()) if hasattr(model, "blocks") else []
    if not any(b.residual for _, b in blocks):
        name = getattr(getattr(model, "config", None), "name", type(model).__name__)
        raise ValueError(NO_PATHS.format(name=name))


def _prepared(model: nn.Module, plain: bool = False) -> nn.Module:
    """A shadow copy in eval mode, its parameters detached (no weight gradients), no block bypassed; a network
    without residual blocks is refused unless ``plain`` (its one path, ``plain_path``)."""
    if not plain:
        require_residual(model)
    work = shadow_copy(model).eval()
    for m in work.modules():
        m._parameters.update({k: p.detach() for k, p in m._parameters.items() if p is not None})
    for _, b in work.blocks():
        b.bypass = False
    return work


class PathProbe:
    """One forward pass of a batch, then any number of masked backward passes through it.

    probe = PathProbe(model, x, y)
    g = probe.gradient(masks)   # (B, C, H, W) at the first block's input; masks (B, n) of 0/1, or None
    """

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, plain: bool = False) -> None:
        self.work = _prepared(model, plain)
        self.blocks = sum(1 for _ in self.work.blocks())
        self.masks = _Masks()
        inputs: dict = {}
        with path_gates(self.work, self.masks, inputs):
            logits = self.work(x)
        self.leaf = inputs["x"]
        self.loss = F.cross_entropy(logits, y, reduction="sum")  # each image's gradient is its own loss's

    def gradient(self, masks: torch.Tensor | None) -> torch.Tensor:
        self.masks.masks = masks
        try:
            (g,) = torch.autograd.grad(self.loss, self.leaf, retain_graph=True)
        finally:
            self.masks.masks = None
        return g


def _schedule(n: int, samples: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Every length 0..n ``samples`` times in a seeded order, each with a random set of k of the n blocks:
    (lengths (M,), masks (M, n))."""
    lengths = torch.arange(n + 1).repeat(samples)
    lengths = lengths[torch.randperm(len(lengths), generator=g)]
    return lengths, _random_masks(n, lengths, g)


def _random_masks(n: int, lengths: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    ranks = torch.rand(len(lengths), n, generator=g).argsort(dim=1).argsort(dim=1)  # a random permutation per row
    return (ranks < lengths[:, None]).to(torch.float32)  # k ones at random places


def _more(n: int, count: list[int], need: list[int], g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``need[k] - count[k]`` more measurements of each length k, in a seeded order."""
    lengths = torch.cat([torch.full((max(0, w - c),), k) for k, (c, w) in enumerate(zip(count, need, strict=True))])
    lengths = lengths[torch.randperm(len(lengths), generator=g)]
    return lengths, _random_masks(n, lengths, g)


def measurements_needed(result: PathResult, target_se: float, most: int) -> list[int]:
    """Per length, the measurements that bring its standard error under ``target_se`` of its mean, from its spread so
    far: more only at the lengths of the effective range (the others' share is already known well enough to place
    the range), at most ``most`` per length."""
    lo, hi = result.effective_range
    need = list(result.count)
    for k in range(lo, hi + 1):
        c, m, se = result.count[k], result.mean[k], result.se[k]
        if m > 0 and np.isfinite(se) and se > target_se * m:
            need[k] = min(most, max(c + 1, int(np.ceil(1.1 * c * (se / (target_se * m)) ** 2))))
    return need


class _Sampler:
    """Masked backward passes in batches of ``per`` images cycling through x, a fresh forward pass every ``rounds``."""

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, rounds: int) -> None:
        self.model, self.x, self.y, self.rounds = model, x, y, rounds
        self.per = min(batch, len(x))
        self.n = sum(1 for _ in model.blocks())
        self.probe: PathProbe | None = None
        self.chunks = self.start = 0

    def measure(self, masks: torch.Tensor, stop=None, progress=None) -> torch.Tensor | None:
        """The gradient norm per row of ``masks``, or None once ``stop`` is set; ``progress(backward passes done,
        in all so far)``, counted over every call."""
        per = self.per
        chunks = (len(masks) + per - 1) // per
        total = self.chunks + chunks
        norms = torch.empty(len(masks))
        for c in range(chunks):
            if stop is not None and stop.is_set():
                return None
            if self.probe is None or self.chunks % self.rounds == 0:
                idx = (torch.arange(per) + self.start) % len(self.x)
                self.start += per
                self.probe = PathProbe(self.model, self.x[idx], self.y[idx])
            self.chunks += 1
            lo, hi = c * per, min((c + 1) * per, len(masks))
            m = torch.zeros(per, self.n)
            m[: hi - lo] = masks[lo:hi]
            norms[lo:hi] = self.probe.gradient(m).flatten(1).norm(dim=1)[: hi - lo]
            if progress:
                progress(self.chunks, total)
        return norms


def path_lengths(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    samples: int = 32,
    seed: int = 0,
    batch: int = 32,
    rounds: int = 4,
    target_se: float | None = None,
    most: int = 2048,
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
) -> PathResult | None:
    """Veit et al.'s gradient per path length: ``samples`` measurements of every length k = 0..n.

    Args:
        model: a residual ``ResNet`` (never modified; BN uses its running statistics, so an untrained network
            should come calibrated, ``gradients.calibrate_bn``).
        x, y: normalised images (N, C, H, W) and labels (N,); batches of ``batch`` are taken from them in turn.
        rounds: masked backward passes per forward pass (each with fresh masks for every image).
        target_se: then keep measuring the lengths of the effective range whose standard error is above this share
            of their mean (``samples`` is the first round's count per length; at most ``most`` per length). The
            lengths outside the range need fewer: their share only has to place the range.
        progress: called with (backward passes done, in all so far). stop: when set, returns None.
    Returns:
        a ``PathResult``; the same seed gives the same numbers.
    Raises:
        ValueError: a network without residual blocks.
    """
    require_residual(model)
    n = sum(1 for _ in model.blocks())
    g = torch.Generator().manual_seed(int(seed))
    lengths, masks = _schedule(n, samples, g)
    sampler = _Sampler(model, x, y, batch, rounds)
    norms = sampler.measure(masks, stop, progress)
    if norms is None:
        return None
    result = _summarise(model, n, samples, seed, lengths, norms)
    while target_se is not None:
        need = measurements_needed(result, target_se, most)
        if need == result.count:
            break
        more_lengths, more_masks = _more(n, result.count, need, g)
        more = sampler.measure(more_masks, stop, progress)
        if more is None:
            return None
        lengths, norms = torch.cat([lengths, more_lengths]), torch.cat([norms, more])
        result = _summarise(model, n, samples, seed, lengths, norms)
    return result


def _summarise(model, n: int, samples: int, seed: int, lengths: torch.Tensor, norms: torch.Tensor) -> PathResult:
    mean, se, count = [], [], []
    for k in range(n + 1):
        v = norms[lengths == k].double().numpy()
        mean.append(float(v.mean()))
        se.append(float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan"))
        count.append(len(v))
    config = getattr(model, "config", None)
    return PathResult(
        network=getattr(config, "name", type(model).__name__),
        blocks=n,
        samples=samples,
        seed=seed,
        residual_blocks="2016" if getattr(config, "preact", False) else "2015",
        paths=[comb(n, k) for k in range(n + 1)],
        mean=mean,
        se=se,
        count=count,
    )


def plain_path(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 32) -> PathResult:
    """The plain twin's one path, of full length n: its gradient norm at the first block's input, per image."""
    n = sum(1 for _ in model.blocks())
    norms = []
    for lo in range(0, len(x), batch):
        g = PathProbe(model, x[lo : lo + batch], y[lo : lo + batch], plain=True).gradient(None)
        norms.append(g.flatten(1).norm(dim=1))
    v = torch.cat(norms).double().numpy()
    config = getattr(model, "config", None)
    nan = float("nan")
    return PathResult(
        network=getattr(config, "name", type(model).__name__),
        blocks=n,
        samples=len(v),
        seed=0,
        residual_blocks="2016" if getattr(config, "preact", False) else "2015",
        paths=[0] * n + [1],
        mean=[nan] * n + [float(v.mean())],
        se=[nan] * n + [float(v.std(ddof=1) / np.sqrt(len(v)))],
        count=[0] * n + [len(v)],
    )
