"""Many of a user's images at once: files, folders and .zip files, each file through the one safe loader.

Every file goes through ``explorer.data.images.load_image`` (format from the content, pixel count checked before
decoding, full decode, EXIF orientation, 8-bit RGB) and ``check_min_size``; a file it refuses is skipped with its
reason, never fatal. A zip is recognised by its first bytes, whatever its name; its entries are read in memory one at
a time, never extracted, and an entry is read only when its declared size is under the byte limit (zipfile never
inflates past the declared size, so a zip bomb costs at most that). A zip with an absolute path or a ``..``
component is skipped whole, as training's loader refuses it (``explorer.data.folder``). Memory stays bounded:
one full-size picture is decoded at a time and kept only shrunk (shorter side at most ``KEEP_SIDE``, enough
for every network here: ImageNet's shorter side is 256 before its 224 crop), and at most ``MAX_PICTURES``
are kept.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from explorer.data.base import SkippedFile
from explorer.data.folder import DAMAGED_ZIP, safe_zip_names
from explorer.data.images import DAMAGED, MAX_BYTES, TOO_LARGE, ImageError, check_min_size, load_image, too_big
from explorer.errors import PlainError
from explorer.i18n import N_, message, translate

KEEP_SIDE = 320  # the shorter side a kept picture is shrunk to
MAX_PICTURES = 200  # pictures kept from one request; the rest are skipped, counted
UNSAFE_ZIP, BAD_ZIP, TOO_MANY = N_("unsafe zip"), N_("damaged zip"), N_("too many files")
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first bytes: a local file header, or an empty zip


@dataclass
class Picture:
    """One image a user gave: its name (``folder/a.jpg``, ``pets.zip/cat/1.png``), the RGB picture, and the
    shape's true outline where it has one (the built-in shapes), as an (H, W) bool mask at the picture's size."""

    name: str
    image: Image.Image
    mask: np.ndarray | None = None


@dataclass
class Gathered:
    """The pictures kept, in the order given, and every file skipped with its reason."""

    pictures: list[Picture] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def _skip(name: str, reason: str, text: tuple[str, dict]) -> SkippedFile:
    return SkippedFile(name, reason, translate(text), text)


def shrink(img: Image.Image, side: int = KEEP_SIDE) -> Image.Image:
    """The picture with its shorter side at most ``side`` (aspect kept; never enlarged)."""
    w, h = img.size
    if min(w, h) <= side:
        return img
    scale = side / min(w, h)
    return img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR)


def _picture(name: str, data: bytes | Path) -> Picture:
    """One file through the safe loader, shrunk; ImageError says why not."""
    img = load_image(data)
    check_min_size(img)
    return Picture(name, shrink(img))


def _is_zip(head: bytes) -> bool:
    return head[:4] in ZIP_MAGIC


def _zip_pictures(name: str, source: bytes | Path) -> Iterator[Picture | SkippedFile]:
    """Each entry of a zip as a Picture or a SkippedFile; the whole zip as one SkippedFile when unsafe or damaged."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError):
        yield _skip(name, BAD_ZIP, message(DAMAGED_ZIP, name=PurePosixPath(name).name))
        return
    with zf:
        try:
            names = safe_zip_names(zf)
        except PlainError as e:
            yield _skip(name, UNSAFE_ZIP, e.message)
            return
        for entry in names:
            parts = PurePosixPath(entry.replace("\\", "/")).parts
            if any(p.startswith(".") or p == "__MACOSX" for p in parts):
                continue  # a Mac's resource forks and hidden files are not the user's pictures
            yield _entry(zf, f"{name}/{entry}", entry)


def _entry(zf: zipfile.ZipFile, shown: str, entry: str) -> Picture | SkippedFile:
    info = zf.getinfo(entry)
    if info.file_size > MAX_BYTES:
        return _skip(shown, TOO_LARGE, too_big(info.file_size, MAX_BYTES))
    try:
        data = zf.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as e:
        return _skip(shown, DAMAGED, message(N_("the zip entry could not be read ({error})"), error=str(e)))
    try:
        return _picture(shown, data)
    except ImageError as e:
        return SkippedFile(shown, e.reason, str(e), e.message)


def _file(name: str, source: bytes | Path) -> Iterator[Picture | SkippedFile]:
    """A single file: a zip (by its first bytes) or an image."""
    if isinstance(source, Path):
        with source.open("rb") as f:
            head = f.read(4)
    else:
        head = source[:4]
    if _is_zip(head):
        yield from _zip_pictures(name, source)
        return
    try:
        yield _picture(name, source)
    except ImageError as e:
        yield SkippedFile(name, e.reason, str(e), e.message)


def _walk(name: str, folder: Path) -> Iterator[Picture | SkippedFile]:
    """Every file under a folder, sorted, hidden files left out; links are not followed out of it."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = path.relative_to(folder)
        if any(p.startswith(".") or p == "__MACOSX" for p in rel.parts):
            continue
        yield from _file(f"{name}/{rel.as_posix()}", path)


def _items(sources: Iterable[tuple[str, bytes | Path]]) -> Iterator[Picture | SkippedFile]:
    for name, source in sources:
        if isinstance(source, Path) and source.is_dir():
            yield from _walk(name, source)
        elif isinstance(source, Path) and not source.is_file():
            yield _skip(name, N_("not an image"), message(N_("no such file: {path}"), path=name))
        else:
            yield from _file(name, source)


def gather(sources: Iterable[tuple[str, bytes | Path]], max_pictures: int = MAX_PICTURES) -> Gathered:
    """Load every image among ``sources``: (name, bytes) for uploads, (name, Path) for files and folders.

    Returns:
        ``Gathered``: the pictures that loaded (at most ``max_pictures``), and a ``SkippedFile`` (name, short
        reason, message) for every file refused, every unsafe or damaged zip, and one for the pictures over
        the limit.
    """
    out = Gathered()
    over = 0
    for item in _items(sources):
        if isinstance(item, SkippedFile):
            out.skipped.append(item)
        elif len(out.pictures) < max_pictures:
            out.pictures.append(item)
        else:
            over += 1
    if over:
        text = N_("{n} more pictures were not read: at most {limit} are explained at once")
        out.skipped.append(_skip("…", TOO_MANY, message(text, n=over, limit=max_pictures)))
    return out


def path_sources(paths: Iterable[str | Path]) -> list[tuple[str, Path]]:
    """(name, Path) for files, folders and zips named on a command line: names are as the user typed them."""
    return [(Path(p).name or str(p), Path(p)) for p in paths]
