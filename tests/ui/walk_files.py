"""Files made here for the widget walks: a good and bad ones per kind of upload (pictures, zips, weights), and
camera photos. Each entry is (what it is, file name, make() -> bytes, MIME type)."""

import io
from typing import Any

import numpy as np
from PIL import Image

from tests.support.crafted import zip_of


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, format="JPEG")
    return buf.getvalue()


def torch_file(obj: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


TEXT = b"these are notes, not a picture\n"
IMAGE_FILES = [
    ("good PNG", "photo.png", lambda: png(), "image/png"),
    ("truncated PNG", "cut.png", lambda: png()[:200], "image/png"),
    ("text named .png", "notes.png", lambda: TEXT, "image/png"),
]
ZIP_FILES = [
    (
        "zip of good images",
        "pets.zip",
        lambda: zip_of({f"{c}/{i}.png": png() for c in ("cat", "dog") for i in range(3)}),
        "application/zip",
    ),
    (
        "zip with a bad image",
        "mixed.zip",
        lambda: zip_of({"cat/0.png": png(), "cat/1.png": png(), "dog/0.png": png(), "dog/bad.png": TEXT}),
        "application/zip",
    ),
    ("text named .zip", "notes.zip", lambda: TEXT, "application/zip"),
]
WEIGHT_FILES = [
    ("a .pth that is no state_dict", "weights.pth", lambda: torch_file([1, 2, 3]), "application/octet-stream"),
    ("text named .pth", "notes.pth", lambda: TEXT, "application/octet-stream"),
]
UPLOADS = {"zip": ZIP_FILES, "pth": WEIGHT_FILES, "pt": WEIGHT_FILES}  # by accepted type; anything else: images
CAMERA_FILES = [("good JPEG", "photo.jpg", jpeg, "image/jpeg"), ("no picture", "photo.jpg", lambda: TEXT, "image/jpeg")]


def files_for(accepted: list[str]) -> list:
    """The crafted files for an uploader that accepts these types (none: any file, given pictures)."""
    types = sorted({t.strip().lstrip(".").lower() for t in accepted})
    return next((UPLOADS[t] for t in types if t in UPLOADS), IMAGE_FILES)
