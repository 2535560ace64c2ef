"""What a model and a page need to know about a dataset (``DatasetInfo``): torch-free, so a saved run's dataset
loads without torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DatasetInfo:
    """What a model and a page need to know about a dataset.

    ``mean``/``std`` are per-channel statistics of the [0, 1] training images (normalise with them).
    """

    name: str
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    in_channels: int
    image_size: int

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DatasetInfo:
        return cls(**{**d, "classes": tuple(d["classes"]), "mean": tuple(d["mean"]), "std": tuple(d["std"])})
