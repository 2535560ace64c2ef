"""CIFAR-10, MNIST and Fashion-MNIST through torchvision's own dataset classes, read from a local folder.

torchvision checks CIFAR-10's files against their published md5 sums. We keep that check by default;
``verify=False`` uses a subclass whose file list carries no checksums, so the files must still exist
and torchvision's own pickle reader still parses them (how the tests load tiny CIFAR files, and a way
to read a re-packed copy). MNIST-style data are read from ``<root>/<Name>/raw/`` as torchvision wants
them; ``.gz`` files found there are decompressed first, as torchvision's downloader would have done.
"""

from __future__ import annotations

import gzip
import logging
import shutil
from pathlib import Path

import numpy as np
import torch
from torchvision import datasets as tvd

from explorer.data.base import ImageDataset
from explorer.data.info import DatasetInfo
from explorer.errors import PlainError
from explorer.i18n import N_, message

log = logging.getLogger(__name__)

# Published statistics of the training images (widely quoted; they agree with channel_stats on the real sets).
STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "mnist": ((0.1307,), (0.3081,)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
}
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class UncheckedCIFAR10(tvd.CIFAR10):
    """torchvision's CIFAR10 with the md5 sums left out of its file lists (files must still exist)."""

    train_list = [[name, None] for name, _ in tvd.CIFAR10.train_list]
    test_list = [[name, None] for name, _ in tvd.CIFAR10.test_list]
    meta = {**tvd.CIFAR10.meta, "md5": None}


def _unpack_gz(raw: Path) -> None:
    """Decompress ``name.gz`` to ``name`` where only the .gz is present (torchvision reads the raw files)."""
    for name in MNIST_FILES:
        gz = raw / f"{name}.gz"
        if gz.is_file() and not (raw / name).is_file():
            log.info("decompressing %s", gz)
            with gzip.open(gz, "rb") as src, open(raw / name, "wb") as dst:
                shutil.copyfileobj(src, dst)


TITLES = {"cifar10": "CIFAR-10", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
NOT_HERE = N_(
    "The {dataset} files are missing from the data folder or damaged. Put them in {folder} ({files}), or allow downloading "
    "(tick “Download the data if it is not in ./data” on Train; --download on the command line) and start again."
)
NOT_DOWNLOADED = N_(
    "The {dataset} files are not in the data folder, and downloading them failed (this machine may have no "
    "internet access). Put them in {folder} ({files}) and start again."
)


def _where_to_put(name: str, root: Path) -> tuple[str, str]:
    """The folder to put the files in, named from the data folder (never a server's full path), and the files."""
    if name == "cifar10":
        return f"{root.name or 'data'}/cifar-10-batches-py", "data_batch_1 … data_batch_5, test_batch, batches.meta"
    folder = "MNIST" if name == "mnist" else "FashionMNIST"
    return f"{root.name or 'data'}/{folder}/raw", ", ".join(MNIST_FILES)


def missing_data(name: str, root: Path, download: bool) -> PlainError:
    """Plain words for data that could not be loaded: where to put the files, or to allow downloading."""
    folder, files = _where_to_put(name, root)
    text = NOT_DOWNLOADED if download else NOT_HERE
    return PlainError(message(text, dataset=TITLES[name], folder=folder, files=files))


def load_torchvision(name: str, split: str, root: Path, download: bool, verify: bool = True) -> ImageDataset:
    """Read a torchvision dataset into memory as uint8 images (N, C, H, W)."""
    train = split == "train"
    try:
        if name == "cifar10":
            cls = tvd.CIFAR10 if verify else UncheckedCIFAR10
            ds = cls(str(root), train=train, download=download)
            images = torch.from_numpy(np.ascontiguousarray(ds.data)).permute(0, 3, 1, 2).contiguous()
            classes = tuple(ds.classes)
        else:
            cls = tvd.MNIST if name == "mnist" else tvd.FashionMNIST
            _unpack_gz(root / cls.__name__ / "raw")
            ds = cls(str(root), train=train, download=download)
            images = ds.data.unsqueeze(1).contiguous()  # (N, 1, 28, 28) uint8
            classes = tuple(ds.classes)
    except (RuntimeError, OSError) as e:  # torchvision's "Dataset not found or corrupted", a failed download
        log.info("%s %s split not loaded from %s (download=%s): %s", name, split, root, download, e)
        raise missing_data(name, root, download) from e
    mean, std = STATS[name]
    info = DatasetInfo(name, classes, mean, std, in_channels=images.shape[1], image_size=images.shape[-1])
    return ImageDataset(images, torch.as_tensor(ds.targets, dtype=torch.long), info)
