"""The in-memory image dataset every back end returns, and the statistics that travel with it."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.utils.data import Dataset

from explorer.data.info import DatasetInfo


@dataclass(frozen=True)
class SkippedFile:
    """A user's file that was refused: its name in the folder or zip, a short reason, the full message."""

    name: str
    reason: str  # one of the short reasons of ``explorer.data.images`` ("too many pixels", "not an image", ...)
    message: str
    text: tuple | None = field(default=None, compare=False)  # ``message`` as an ``i18n.message`` pair


class ImageDataset(Dataset):
    """Images held in memory as one tensor: indexable like a TensorDataset, batchable in one gather.

    Attributes:
        images: (N, C, H, W), uint8 (0..255) or float32 (0..1); ``dataset[i]`` is always float in [0, 1].
        labels: (N,) int64.
        masks: (N, H, W) bool ground-truth object pixels, or None when the dataset has none.
        info: the dataset's ``DatasetInfo``.
        skipped: a ``SkippedFile`` for every file that was refused (image folders only).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        info: DatasetInfo,
        masks: torch.Tensor | None = None,
        skipped: tuple[SkippedFile, ...] = (),
    ) -> None:
        if images.ndim != 4 or len(images) != len(labels):
            raise ValueError(f"images must be (N, C, H, W) with N labels, got {tuple(images.shape)}, {len(labels)}")
        self.images, self.labels, self.info, self.masks, self.skipped = images, labels.long(), info, masks, skipped

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return to_float(self.images[i]), int(self.labels[i])

    def batch(self, idx: torch.Tensor, normalize: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, C, H, W) float, normalised with ``info`` unless told not to, and labels (B,)."""
        x = to_float(self.images[idx])
        return (normalize_images(x, self.info) if normalize else x), self.labels[idx]

    def subset(self, n: int) -> ImageDataset:
        """The first ``n`` items (a view, no copy)."""
        masks = None if self.masks is None else self.masks[:n]
        return ImageDataset(self.images[:n], self.labels[:n], self.info, masks, self.skipped)


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 -> float32 0..1; float stays as it is."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


def normalize_images(x: torch.Tensor, info: DatasetInfo) -> torch.Tensor:
    """(x - mean) / std per channel; x is (B, C, H, W) in [0, 1]."""
    mean = torch.tensor(info.mean, dtype=x.dtype).view(1, -1, 1, 1)
    std = torch.tensor(info.std, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - mean) / std


def channel_stats(images: torch.Tensor, max_items: int = 10_000) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of (N, C, H, W) images in [0, 1] (from at most ``max_items`` images)."""
    x = to_float(images[:max_items]).transpose(0, 1).flatten(1)  # (C, N*H*W)
    std = x.std(dim=1).clamp_min(1e-3)
    return tuple(round(v, 4) for v in x.mean(dim=1).tolist()), tuple(round(v, 4) for v in std.tolist())
