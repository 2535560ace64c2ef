"""A user's own images: an ImageFolder-layout directory (``root/<class>/<image>``) or a .zip of one.

Every file goes through ``explorer.data.images.load_image``, the one safe way in for an image a user gives:
the pixel count its header declares is checked before anything is decoded, the decode is forced in full,
the EXIF orientation applied and transparency put on white. Each picture is then fitted to ``size`` x
``size`` (resize the shorter side, centre crop). A refused file is skipped and counted with its reason,
never fatal. Before decoding anything, the headers of all files are read: a folder or zip whose images
would decode to more than ``MAX_TOTAL_PIXELS`` in all is refused with a message. Zip entries are read in
memory one at a time, never extracted; an entry with an absolute path or a ``..`` component refuses the
whole zip.
"""

from __future__ import annotations

import logging
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO

import numpy as np
import torch
from PIL import Image, ImageOps

from explorer.data.base import ImageDataset, SkippedFile, channel_stats
from explorer.data.images import DAMAGED, MAX_PIXELS, TOO_LARGE, ImageError, load_image
from explorer.data.info import DatasetInfo
from explorer.errors import PlainError
from explorer.i18n import N_, _, message

log = logging.getLogger(__name__)

MAX_CLASSES = 20
MAX_FILE_BYTES = 20_000_000
MAX_TOTAL_PIXELS = 1_000_000_000  # what all of a folder's images may decode to: 100 ten-megapixel photos
DAMAGED_ZIP = N_(
    "{name} could not be opened as a .zip file: it may be damaged or cut short. Make the zip again and upload it"
)


class _Files:
    """The files of a folder or a zip: names, sizes, a stream to read a header from, and the whole bytes."""

    def __init__(self, path: Path, zf: zipfile.ZipFile | None):
        self.path, self.zf = path, zf
        if zf is None:
            self.names = sorted(f.relative_to(path).as_posix() for f in path.rglob("*") if f.is_file())
        else:
            self.names = sorted(safe_zip_names(zf))

    def size(self, name: str) -> int:
        return (self.path / name).stat().st_size if self.zf is None else self.zf.getinfo(name).file_size

    def stream(self, name: str) -> IO[bytes]:
        return (self.path / name).open("rb") if self.zf is None else self.zf.open(name)

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes() if self.zf is None else self.zf.read(name)


@contextmanager
def _opened(path: Path) -> Iterator[_Files]:
    if path.is_dir():
        yield _Files(path, None)
        return
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError):
        raise PlainError(message(DAMAGED_ZIP, name=path.name)) from None
    with zf:
        yield _Files(path, zf)


def safe_zip_names(zf: zipfile.ZipFile) -> list[str]:
    """Every file entry's name; raises ValueError on absolute paths or '..'."""
    names = []
    for info in zf.infolist():
        name = info.filename.replace("\\", "/")
        p = PurePosixPath(name)
        if name.startswith("/") or p.is_absolute() or ".." in p.parts or (len(name) > 1 and name[1] == ":"):
            text = N_(
                "refusing the zip: its entry {name} has an absolute path or '..'; make the zip again from the folder"
            )
            raise PlainError(message(text, name=repr(info.filename)))
        if not info.is_dir():
            names.append(info.filename)
    return names


def _class_files(names: list[str]) -> dict[str, list[str]]:
    """class name -> file names, allowing one wrapping folder (``cats_dogs/cat/1.png``)."""
    items = [
        (PurePosixPath(n.replace("\\", "/")).parts, n)
        for n in names
        if not any(p.startswith(".") or p == "__MACOSX" for p in PurePosixPath(n.replace("\\", "/")).parts)
    ]
    if items and all(len(parts) >= 3 for parts, _n in items) and len({parts[0] for parts, _n in items}) == 1:
        items = [(parts[1:], n) for parts, n in items]  # strip the single wrapping folder
    classes: dict[str, list[str]] = {}
    for parts, n in items:
        if len(parts) >= 2:
            classes.setdefault(parts[0], []).append(n)
    return dict(sorted(classes.items()))


def _declared_pixels(files: _Files, name: str) -> int:
    """Pixels the file's image header declares (only the header is read, nothing decoded); 0 without one."""
    if files.size(name) > MAX_FILE_BYTES:
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with files.stream(name) as f, Image.open(f) as im:
                w, h = im.size
        except Exception:  # not an image, a damaged entry, a header Pillow itself refuses: load_image says why
            return 0
    return w * h if w * h <= MAX_PIXELS else 0  # over the per-image limit: refused by load_image, never decoded


def _read(files: _Files, name: str) -> bytes:
    """The file's bytes, or ImageError when it is too large or the zip entry is damaged."""
    if files.size(name) > MAX_FILE_BYTES:
        raise ImageError(
            message(N_("the file is over the {limit:.0f} MB limit"), limit=MAX_FILE_BYTES / 1e6), TOO_LARGE
        )
    try:
        return files.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise ImageError(message(N_("the zip entry could not be read ({error})"), error=str(e)), DAMAGED) from None


def _fit(img: Image.Image, size: int) -> np.ndarray:
    """An RGB picture resized (shorter side) and centre-cropped to (size, size, 3) uint8."""
    return np.asarray(ImageOps.fit(img, (size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def skip_summary(skipped: tuple[SkippedFile, ...]) -> dict[str, int]:
    """How many files were skipped for each reason, most common first."""
    return dict(Counter(s.reason for s in skipped).most_common())


def skip_reasons(skipped: tuple[SkippedFile, ...]) -> list[tuple[str, dict]]:
    """Each reason and its count as an ``i18n.message``, translated where it is shown (a worker words nothing)."""
    return [message(N_("{reason}: {n}"), reason=message(reason), n=n) for reason, n in skip_summary(skipped).items()]


def load_image_folder(path: str | Path, size: int = 32, name: str | None = None) -> ImageDataset:
    """Load an ImageFolder-layout directory or .zip (at most 20 classes) into memory.

    Returns:
        ``ImageDataset`` with uint8 images (N, 3, size, size), labels by sorted class name, and
        ``skipped`` = a ``SkippedFile`` (name, reason, message) for every file that was refused.
    Raises:
        errors.PlainError (a ValueError, in words for the user): not a folder or a readable zip, unsafe zip paths, too few or too many classes, no readable image,
            or images that would decode to more than ``MAX_TOTAL_PIXELS`` together.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(_("no such folder or zip: {path}").format(path=path))
    if not path.is_dir() and not zipfile.is_zipfile(path):
        raise PlainError(message(DAMAGED_ZIP, name=path.name))
    with _opened(path) as files:
        classes = _class_files(files.names)
        if len(classes) < 2:
            text = N_(
                "{name} needs at least 2 class folders (one folder of images per class: <class>/<image>), "
                "found {found}; put each class's images in its own folder and zip them again"
            )
            raise PlainError(message(text, name=path.name, found=", ".join(classes) or "0"))
        if len(classes) > MAX_CLASSES:
            text = N_("{name} has {n} class folders; at most {limit} are supported: zip fewer classes")
            raise PlainError(message(text, name=path.name, n=len(classes), limit=MAX_CLASSES))
        # first the headers only: refuse the whole folder before decoding anything
        total = sum(_declared_pixels(files, f) for names in classes.values() for f in names)
        if total > MAX_TOTAL_PIXELS:
            text = N_(
                "refusing {name}: its images would decode to {mp:,.0f} megapixels in all, over the "
                "{limit:,.0f}-megapixel budget; shrink the pictures (a few hundred pixels a side "
                "is plenty, the networks see {size} x {size}) or send fewer"
            )
            raise PlainError(message(text, name=path.name, mp=total / 1e6, limit=MAX_TOTAL_PIXELS / 1e6, size=size))
        arrays, labels, skipped = [], [], []
        for label, names in enumerate(classes.values()):
            for f in names:
                try:
                    arrays.append(_fit(load_image(_read(files, f), MAX_FILE_BYTES, MAX_PIXELS), size))
                    labels.append(label)
                except ImageError as e:
                    skipped.append(SkippedFile(f, e.reason, str(e), e.message))
    if not arrays:
        why = skip_reasons(tuple(skipped))  # a list of messages: the viewer's language, not the worker's
        text = N_("no readable images in {name} ({n} files skipped: {why}); zip PNG or JPEG pictures and try again")
        raise PlainError(message(text, name=path.name, n=len(skipped), why=why))
    if skipped:
        log.warning("%s: skipped %d files: %s", path, len(skipped), skip_summary(tuple(skipped)))
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()  # (N, 3, size, size)
    mean, std = channel_stats(images)
    info = DatasetInfo(name or path.stem, tuple(classes), mean, std, in_channels=3, image_size=size)
    return ImageDataset(images, torch.tensor(labels), info, skipped=tuple(skipped))
