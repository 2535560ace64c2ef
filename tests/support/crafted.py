"""The crafted-file corpus, as real files: what a user's folder of pictures may hold, good and bad.

Each builder returns bytes made by Pillow or by hand: a truncated PNG, a PNG declaring 12000 x 12000 pixels (a
140 KB decompression bomb), a text file named .jpg, an animated GIF, a CMYK JPEG, a 16-bit PNG, an EXIF-rotated
JPEG, a zip bomb (an entry declaring 2 GB) and a zip whose entries climb out of the folder.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def save(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def photo(seed: int = 0, size: tuple[int, int] = (48, 40)) -> bytes:
    """A PNG of seeded noise, size (w, h)."""
    rng = np.random.default_rng(seed)
    return save(Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)), "PNG")


def bomb_png(width: int = 12000, height: int = 12000) -> bytes:
    """A valid all-black greyscale PNG of width x height, compressed row by row (never held decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)


def cmyk_jpeg() -> bytes:
    return save(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG", quality=95)


def png16() -> bytes:
    ramp = np.tile(np.linspace(0, 65535, 64).round().astype(np.uint16), (32, 1))  # (32, 64)
    return save(Image.fromarray(ramp), "PNG")


def exif_rotated_jpeg() -> bytes:
    stored = np.zeros((30, 60, 3), dtype=np.uint8)
    stored[:, :30] = (255, 0, 0)
    stored[:, 30:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display: 30 wide, 60 high
    return save(Image.fromarray(stored), "JPEG", exif=exif, quality=95)


def zip_of(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def zip_bomb(declared: int = 2_000_000_000) -> bytes:
    """A zip with one small good picture and an entry of 4 MB of zeros whose headers declare ``declared`` bytes."""
    raw = bytearray(zip_of({"ok.png": photo(7), "bomb.png": b"\0" * 4_000_000}))
    # (signature, offset of the uncompressed size, offset of the name's length, offset of the name)
    for sig, size_at, len_at, name_at in ((b"PK\x01\x02", 24, 28, 46), (b"PK\x03\x04", 22, 26, 30)):
        i = raw.find(sig)
        while i >= 0:
            (n,) = struct.unpack("<H", raw[i + len_at : i + len_at + 2])
            if raw[i + name_at : i + name_at + n] == b"bomb.png":
                raw[i + size_at : i + size_at + 4] = struct.pack("<I", declared)
            i = raw.find(sig, i + 4)
    return bytes(raw)


def climbing_zip() -> bytes:
    return zip_of({"ok.png": photo(8), "../../evil.png": photo(9)})


@functools.cache
def corpus() -> dict[str, tuple[bytes, bool]]:
    """name -> (bytes, whether it is a picture that should be explained); made once per test process."""
    return {
        "good.png": (photo(0), True),
        "second.jpg": (save(Image.new("RGB", (40, 40), (200, 30, 30)), "JPEG"), True),
        "animated.gif": (animated_gif(), True),
        "cmyk.jpg": (cmyk_jpeg(), True),
        "deep16.png": (png16(), True),
        "rotated.jpg": (exif_rotated_jpeg(), True),
        "truncated.png": (photo(1, (64, 64))[:300], False),
        "huge.png": (bomb_png(), False),
        "notes.jpg": (b"these are notes, not a picture\n" * 8, False),
        "bomb.zip": (zip_bomb(), False),  # holds one good picture too
        "climbing.zip": (climbing_zip(), False),  # refused whole
    }


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (data, _good) in corpus().items():
        (folder / name).write_bytes(data)
    return folder
