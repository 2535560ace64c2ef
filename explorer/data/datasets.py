"""Datasets: the built-in shapes (no download), torchvision's CIFAR-10 / MNIST / Fashion-MNIST read from
a local folder, and a user's own ImageFolder directory or zip. All load into memory as an
``ImageDataset`` (images, labels, optional masks) whose ``info`` carries class names and the
normalisation statistics.

    ds = load_dataset("shapes", "train", n=5000)
    x, y = ds.batch(torch.arange(64))            # normalised (64, 3, 32, 32), labels (64,)
"""

from __future__ import annotations

import zlib
from pathlib import Path

import torch
import torch.nn.functional as F

from explorer.data.base import ImageDataset, to_float
from explorer.data.folder import load_image_folder
from explorer.data.info import DatasetInfo
from explorer.data.shapes import SHAPE_CLASSES, make_shapes

DATASETS = ("shapes", "cifar10", "mnist", "fashion-mnist")
SPLITS = ("train", "test")
SHAPES_SIZE = {"train": 10_000, "test": 2_000}
# Statistics of make_shapes images (colours are symmetric around 0.5 by construction; std measured on 10k).
SHAPES_MEAN, SHAPES_STD = (0.5, 0.5, 0.5), (0.31, 0.31, 0.31)
HELD_OUT_FRACTION = 0.2  # a user folder's test split


def default_root() -> Path:
    """Where torchvision datasets are looked for: $EXPLORER_DATA or ./data."""
    import os

    return Path(os.environ.get("EXPLORER_DATA", "data"))


def shapes_info(size: int = 32) -> DatasetInfo:
    """The shapes dataset's info without generating it."""
    return DatasetInfo("shapes", SHAPE_CLASSES, SHAPES_MEAN, SHAPES_STD, in_channels=3, image_size=size)


def _split_seed(seed: int, split: str) -> int:
    """Disjoint, deterministic generator seeds for the splits of one dataset seed."""
    return int(seed) * 1_000_003 + zlib.crc32(split.encode())


def _resize(ds: ImageDataset, size: int) -> ImageDataset:
    """Bilinear resize of every image (kept as uint8 when it was)."""
    if ds.images.shape[-1] == size and ds.images.shape[-2] == size:
        return ds
    x = F.interpolate(to_float(ds.images), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8) if ds.images.dtype == torch.uint8 else x
    info = DatasetInfo(**{**ds.info.to_dict(), "image_size": size})
    return ImageDataset(images, ds.labels, info, ds.masks, ds.skipped)


def _take(ds: ImageDataset, idx: torch.Tensor) -> ImageDataset:
    """The items at ``idx``."""
    masks = None if ds.masks is None else ds.masks[idx]
    return ImageDataset(ds.images[idx], ds.labels[idx], ds.info, masks, ds.skipped)


def load_dataset(
    name: str,
    split: str = "train",
    root: str | Path | None = None,
    download: bool = False,
    size: int | None = None,
    n: int | None = None,
    seed: int = 0,
    verify: bool = True,
) -> ImageDataset:
    """Load a dataset split into memory.

    Args:
        name: "shapes", "cifar10", "mnist", "fashion-mnist", or a path to an ImageFolder directory / .zip.
        split: "train" or "test" (a user folder is split 80/20 by ``seed``).
        root: folder holding torchvision datasets (default ``default_root()``).
        download: let torchvision download a missing dataset.
        size: image side; shapes are drawn at it, other data resized to it (default: native, 32 for folders).
        n: keep the first ``n`` items (shapes: generate ``n``; default 10,000 train / 2,000 test).
        seed: shapes' generator seed and the folder split's seed.
        verify: check CIFAR-10's md5 sums (see ``explorer.data.torchvision_sets``).
    Returns:
        ``ImageDataset``; ``.info`` is its ``DatasetInfo``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if n is not None and (not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if size is not None and (not isinstance(size, int) or size < 8):
        raise ValueError(f"size must be an integer >= 8, got {size!r}")
    key = name.lower().replace("_", "-") if isinstance(name, str) else name
    if key == "shapes":
        s = make_shapes(n or SHAPES_SIZE[split], size or 32, _split_seed(seed, split))
        return ImageDataset(s.images, s.labels, shapes_info(size or 32), s.masks)
    if key in ("cifar10", "cifar-10", "mnist", "fashion-mnist", "fashionmnist"):
        key = {"cifar-10": "cifar10", "fashionmnist": "fashion-mnist"}.get(key, key)
        from explorer.data.torchvision_sets import load_torchvision  # torchvision is slow to import

        ds = load_torchvision(key, split, Path(root) if root is not None else default_root(), download, verify)
    elif Path(name).exists():
        ds = load_image_folder(name, size or 32)
        perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(_split_seed(seed, "folder")))
        n_test = max(1, int(round(len(ds) * HELD_OUT_FRACTION)))
        ds = _take(ds, perm[n_test:] if split == "train" else perm[:n_test])
    else:
        raise ValueError(f"unknown dataset {name!r}: use one of {DATASETS} or a path to an image folder or .zip")
    if n is not None:
        ds = ds.subset(n)
    return _resize(ds, size) if size is not None else ds
