"""How long computations report progress: one ``Progress`` record, or ``progress(done, total)`` for a counter.

Training (a lock-step), loss landscapes (a point) and the job engine's snapshots all describe where work stands
with ``Progress``; short loops over networks, methods or images call the plain ``progress(done, total)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ProgressFn = Callable[[int, int], None]  # progress(done, total): a counter's short form


@dataclass
class Progress:
    """Where a long computation stands after a unit of work (a training step, a landscape point).

    ``rate``: units of throughput per second (images for training, points for a landscape).
    ``metrics`` and ``history``: training's loss, accuracy and lr per network at this step, and the History so far.
    """

    done: int
    total: int
    rate: float = 0.0
    eta_s: float = 0.0
    elapsed_s: float = 0.0
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    history: Any = field(default=None, repr=False)

    @property
    def step(self) -> int:
        """Training's name for ``done``: completed lock-steps (of all runs so far, when resumed or extended)."""
        return self.done
