"""How to train: ``TrainConfig``, the optimisers and schedules it names. Torch-free, so a saved run's recipe loads
without torch (``explorer.training.lockstep`` trains with it)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("constant", "cosine", "step")


@dataclass(frozen=True)
class TrainConfig:
    """How to train (and on what data). Frozen and hashable; ``replace(config, steps=...)`` to vary.

    ``warmup`` steps start the schedule: a linear ramp from 0 to ``lr``, or, with ``warmup_lr`` set,
    a constant ``warmup_lr`` (the paper's 0.01 for ResNet-110). ``schedule="step"`` divides the lr by 10
    at each of ``milestones``. ``record_every``/``eval_every`` of 0 switch those records off.
    """

    steps: int = 250
    batch_size: int = 64
    optimizer: str = "adamw"
    lr: float = 2e-3
    schedule: str = "cosine"
    milestones: tuple[int, ...] = ()
    weight_decay: float = 5e-4
    momentum: float = 0.9
    warmup: int = 0
    warmup_lr: float | None = None
    eval_every: int = 50
    record_every: int = 10
    seed: int = 0
    channels_last: bool = False
    augment: bool = False  # the paper's 4-pixel pad + random crop + horizontal flip
    dataset: str = "shapes"
    train_size: int | None = 10_000
    eval_size: int = 1_000
    image_size: int | None = None  # None: the dataset's native size

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        for name in ("warmup", "eval_every", "record_every", "eval_size"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        object.__setattr__(self, "milestones", tuple(int(m) for m in self.milestones))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        return cls(**{**d, "milestones": tuple(d.get("milestones", ()))})
