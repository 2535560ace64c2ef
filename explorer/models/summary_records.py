"""What a model summary holds (``LayerInfo``, ``Summary``) and how its counts read (``human``): torch-free, so
pages can show counts and the precomputed costs without importing torch (``explorer.models.summary`` computes them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class LayerInfo:
    """One named layer: what it is, what it outputs, what it costs."""

    name: str
    kind: str
    out_shape: tuple[int, ...]
    params: int
    macs: int


@dataclass
class Summary:
    """A network's totals, its layers in forward order and each stage's receptive field."""

    name: str
    input_size: int
    params: int
    macs: int
    layers: list[LayerInfo]
    receptive_field: dict[str, int]

    def to_dict(self) -> dict:
        return asdict(self)


def human(n: float) -> str:
    """12345678 -> '12.3M'."""
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.1f}{unit}" if n / div < 100 else f"{n / div:.0f}{unit}"
    return str(int(n))
