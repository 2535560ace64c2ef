"""A lock-step run's records: one ``ModelHistory`` per network in a ``History``. Plain data, no torch: pages read
saved runs without importing it (``explorer.training.recorders`` fills them while training).

Thread safety: a ``History`` is appended to in place while training runs, so another thread (a
Streamlit fragment) may read it at any time. Every list is append-only; within one step each model's
``step`` list is appended last, so reading ``n = len(h.step)`` first and slicing the other per-step
lists to ``[:n]`` always gives aligned values. The same holds for ``response_step`` and ``eval_step``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields


def _tail_mean(values: list[float], window: int) -> float:
    tail = values[-window:]
    return sum(tail) / len(tail) if tail else math.nan


@dataclass
class ModelHistory:
    """One network's records. Per-step lists align with ``step``; see the module docstring on threads."""

    name: str
    config: dict
    layers: list[str]
    blocks: list[str]
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norms: list[list[float]] = field(default_factory=list)  # [step][layer]
    response_step: list[int] = field(default_factory=list)
    block_output_norms: list[list[float]] = field(default_factory=list)  # [record][block]
    branch_norms: list[list[float]] = field(default_factory=list)  # [record][block]; nan where bypassed
    eval_step: list[int] = field(default_factory=list)
    eval_accuracy: list[float] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    stopped_reason: str | None = None
    stopped_step: int | None = None

    @property
    def residual(self) -> bool:
        return bool(self.config.get("residual", True))

    @property
    def depth(self) -> int:
        return int(self.config.get("depth", 0))

    def final_loss(self, window: int = 10) -> float:
        """Mean training loss over the last ``window`` recorded steps (nan if none)."""
        return _tail_mean(self.loss, window)

    def final_accuracy(self, window: int = 10) -> float:
        """Mean training accuracy over the last ``window`` recorded steps (nan if none)."""
        return _tail_mean(self.accuracy, window)

    def append_responses(self, step: int, found: dict[str, dict[str, float]]) -> None:
        self.block_output_norms.append([found["output"].get(b, math.nan) for b in self.blocks])
        self.branch_norms.append([found["branch"].get(b, math.nan) for b in self.blocks])
        self.response_step.append(step)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelHistory:
        return cls(**d)


@dataclass
class History:
    """Records of a lock-step run: one ``ModelHistory`` per network, plus run-level state."""

    models: dict[str, ModelHistory] = field(default_factory=dict)
    step: int = 0  # completed lock-steps (all runs so far, when extended)
    total_steps: int = 0
    wall_s: float = 0.0
    images_per_s: float = 0.0
    stopped_reason: str | None = None  # "stopped" when the stop flag ended it
    finished: bool = False
    initial_states: dict = field(default_factory=dict, repr=False, compare=False)  # step-0 state_dicts, not JSON

    def to_dict(self) -> dict:
        return {
            **{f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("models", "initial_states")},
            "models": {k: m.to_dict() for k, m in self.models.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> History:
        models = {k: ModelHistory.from_dict(m) for k, m in d["models"].items()}
        history = cls(models=models, **{k: v for k, v in d.items() if k != "models"})
        if history.stopped_reason == "cancelled":  # the word runs saved by older versions use for "stopped"
            history.stopped_reason = "stopped"
        return history

    def final_losses(self, window: int = 10) -> dict[str, float]:
        return {k: m.final_loss(window) for k, m in self.models.items()}
