"""A user's own images: an ImageFolder-layout directory (``root/<class>/<image>``) or a .zip of one.

Images are decoded with Pillow, converted to RGB and fitted to ``size`` x ``size`` (resize the shorter
side, centre crop). Unreadable files are skipped and counted, never fatal. Zip entries are read in
memory, never extracted; an entry with an absolute path or a ``..`` component refuses the whole zip.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from explorer.datasets.base import DatasetInfo, ImageDataset, channel_stats

log = logging.getLogger(__name__)

MAX_CLASSES = 20
MAX_FILE_BYTES = 20_000_000
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm"}


def _safe_zip_names(zf: zipfile.ZipFile) -> list[str]:
    """Every file entry's name; raises ValueError on absolute paths or '..'."""
    names = []
    for info in zf.infolist():
        name = info.filename.replace("\\", "/")
        p = PurePosixPath(name)
        if name.startswith("/") or p.is_absolute() or ".." in p.parts or (len(name) > 1 and name[1] == ":"):
            raise ValueError(f"refusing zip: entry {info.filename!r} has an absolute path or '..'")
        if not info.is_dir():
            names.append(name)
    return names


def _entries(path: Path) -> Iterator[tuple[tuple[str, ...], bytes | Path]]:
    """(path parts, bytes or file path) for every file under the folder or in the zip."""
    if path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.is_file():
                yield f.relative_to(path).parts, f
        return
    with zipfile.ZipFile(path) as zf:
        for name in sorted(_safe_zip_names(zf)):
            info = zf.getinfo(name)
            if info.file_size > MAX_FILE_BYTES:
                yield PurePosixPath(name).parts, b""  # counted as unreadable
            else:
                yield PurePosixPath(name).parts, zf.read(name)


def _class_files(path: Path) -> dict[str, list[bytes | Path]]:
    """class name -> files, allowing one wrapping folder (``cats_dogs/cat/1.png``)."""
    items = [
        (parts, data) for parts, data in _entries(path) if not any(p.startswith(".") or p == "__MACOSX" for p in parts)
    ]
    if items and all(len(parts) >= 3 for parts, _ in items) and len({parts[0] for parts, _ in items}) == 1:
        items = [(parts[1:], data) for parts, data in items]  # strip the single wrapping folder
    classes: dict[str, list[bytes | Path]] = {}
    for parts, data in items:
        if len(parts) >= 2:
            classes.setdefault(parts[0], []).append(data)
    return dict(sorted(classes.items()))


def _decode(data: bytes | Path, size: int) -> np.ndarray | None:
    """An RGB uint8 (size, size, 3) array, or None when the file is not a readable image."""
    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
            im = ImageOps.fit(im.convert("RGB"), (size, size), Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def load_image_folder(path: str | Path, size: int = 32, name: str | None = None) -> ImageDataset:
    """Load an ImageFolder-layout directory or .zip (at most 20 classes) into memory.

    Returns:
        ``ImageDataset`` with uint8 images (N, 3, size, size), labels by sorted class name, and
        ``skipped`` = the number of files that could not be read.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such folder or zip: {path}")
    if not path.is_dir() and not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is neither a folder nor a .zip file")
    classes = _class_files(path)
    if len(classes) < 2:
        raise ValueError(f"{path} needs at least 2 class folders (root/<class>/<image>), found {list(classes)}")
    if len(classes) > MAX_CLASSES:
        raise ValueError(f"{path} has {len(classes)} class folders; at most {MAX_CLASSES} are supported")
    arrays, labels, skipped = [], [], 0
    for label, files in enumerate(classes.values()):
        for data in files:
            arr = _decode(data, size)
            if arr is None:
                skipped += 1
                continue
            arrays.append(arr)
            labels.append(label)
    if not arrays:
        raise ValueError(f"no readable images in {path} ({skipped} files skipped)")
    if skipped:
        log.warning("%s: skipped %d unreadable files", path, skipped)
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()  # (N, 3, size, size)
    mean, std = channel_stats(images)
    info = DatasetInfo(name or path.stem, tuple(classes), mean, std, in_channels=3, image_size=size)
    return ImageDataset(images, torch.tensor(labels), info, skipped=skipped)
