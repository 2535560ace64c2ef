"""Three myths about residual networks, each checked against a number this app measures.

1. "Residual connections cure overfitting." He et al. (2015, Fig. 1 and 4) show the opposite problem:
   the deeper plain net has the higher *training* error (degradation), so the fix is an optimisation one, and
   their ResNet-1202 overfits (section 4.2). Checked on the full-batch run: training against held-out accuracy
   per network (every one, residual or not, memorises its 64 images).
2. "Deep plain nets fail because gradients vanish." With batch norm the paper's plain nets' gradients did not
   vanish during training (section 4.1). Checked on the gradient sweep at initialisation with ``gradients.first_last_ratios``
   (the first layer's gradient norm over the last's).
3. "The basic block is a bottleneck block." The bottleneck (1x1, 3x3, 1x1; paper Fig. 5) squeezes the
   channels by four so a 256-channel block costs what a 64-channel basic block costs. Checked by
   counting the parameters of the app's own blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.training.history import History


@dataclass(frozen=True)
class Fit:
    """How well one network fits its training data and held-out data at the end of a run (fractions)."""

    name: str
    residual: bool
    train_accuracy: float
    heldout_accuracy: float | None


def fits(history: History, window: int = 10) -> list[Fit]:
    """Training accuracy (mean of the last ``window`` records) and the last held-out accuracy per network."""
    out = []
    for name, m in history.models.items():
        tail = m.accuracy[-window:]
        train = sum(tail) / len(tail) if tail else 0.0
        out.append(Fit(name, m.residual, train, m.eval_accuracy[-1] if m.eval_accuracy else None))
    return out


@dataclass(frozen=True)
class BlockCost:
    """One block's parameter count and the channels it carries in and out."""

    kind: str  # "basic" or "bottleneck"
    channels: int
    params: int


def block_costs() -> list[BlockCost]:
    """A basic block at 64 and at 256 channels, and a bottleneck block at 256 (64 inside), as ResNet-34/50 build them."""
    import torch

    from explorer.models.blocks import BasicBlock, Bottleneck

    with torch.device("meta"):  # shapes only: no memory, no time
        blocks = [
            ("basic", 64, BasicBlock(64, 64, 1, True, "B")),
            ("basic", 256, BasicBlock(256, 256, 1, True, "B")),
            ("bottleneck", 256, Bottleneck(256, 64, 1, True, "B")),
        ]
    return [BlockCost(kind, ch, sum(p.numel() for p in b.parameters())) for kind, ch, b in blocks]
