"""Safe image loading and preprocessing: whatever a user uploads, an RGB picture or a plain refusal.

Loading checks the byte size, identifies the format from the content (never the extension), checks
the pixel count the header declares before decoding anything (Pillow itself only raises at twice its
own limit), forces a full decode so truncated files fail here, applies the EXIF orientation and
converts every mode to 8-bit RGB (transparency composited on white, 16-bit scaled, not clipped).
Preprocessing keeps the resized picture that the tensor was made from, so overlays line up.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from explorer.data.upload_limits import limit_bytes
from explorer.devices import model_device
from explorer.i18n import N_, message, translate

log = logging.getLogger(__name__)

FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
ACCEPTED = N_("PNG, JPEG, WebP, BMP, GIF (first frame) or TIFF")  # shown through _()
MAX_BYTES = limit_bytes("image")
MAX_PIXELS = 40_000_000  # 40 megapixels: a large phone photo is 12-50
# the shorter side a picture needs before a network's answer or map says anything about it: 16 pixels, the
# smallest images any network here learnt from (the full-batch degradation recipe trains at 16 x 16). Below it
# the network sees mostly pixels the resize invented, and a map's cells are larger than the picture's own.
MIN_SIDE = 16
SAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "samples"


# the short reasons an image is refused (``ImageError.reason``), for counting refusals; shown through _()
TOO_MANY_PIXELS, TOO_LARGE, NOT_AN_IMAGE, NOT_ACCEPTED, DAMAGED, EMPTY, TOO_SMALL = (
    N_("too many pixels"),
    N_("file too large"),
    N_("not an image"),
    N_("format not accepted"),
    N_("damaged or truncated"),
    N_("empty"),
    N_("too small to explain"),
)


class ImageError(ValueError):
    """An upload that cannot be used, with a message for the user: what was wrong, what is accepted.

    ``reason`` is one of the short reasons above, so refusals can be counted by kind. ``message`` is the
    ``i18n.message(...)`` pair (msgid, fields): a refusal found on a worker is shown in each viewer's
    language (``i18n.translate``); ``str(error)`` is the text in the language active where it was raised.
    """

    def __init__(self, message: tuple[str, dict] | str, reason: str = DAMAGED):
        super().__init__(translate(message))
        self.message = message
        self.reason = reason


def _read_bytes(data: bytes | str | Path, max_bytes: int) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    elif isinstance(data, (str, Path)):
        path = Path(data)
        if not path.is_file():
            raise ImageError(message(N_("no such file: {path}"), path=path.name), NOT_AN_IMAGE)
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageError(too_big(size, max_bytes), TOO_LARGE)
        raw = path.read_bytes()
    else:
        raise TypeError(f"load_image takes bytes or a path, got {type(data).__name__}")
    if len(raw) > max_bytes:
        raise ImageError(too_big(len(raw), max_bytes), TOO_LARGE)
    if not raw:
        raise ImageError(
            message(N_("the file is empty; please upload a {accepted} image"), accepted=message(ACCEPTED)), EMPTY
        )
    return raw


def too_big(size: int, max_bytes: int) -> tuple[str, dict]:
    """The plain message for an image file of ``size`` bytes over the ``max_bytes`` limit."""
    return message(
        N_("the file is {mb:.1f} MB, over the {limit:.0f} MB limit; please upload a smaller image"),
        mb=size / 1e6,
        limit=max_bytes / 1e6,
    )


def _to_8bit(img: Image.Image) -> Image.Image:
    """Scale 16/32-bit integer and float images to 8 bits over their range instead of clipping."""
    a = np.asarray(img, dtype=np.float64)
    if img.mode.startswith("I;16"):
        a = a / 65535.0
    elif img.mode == "I" and a.min() >= 0 and a.max() <= 65535:
        a = a / 65535.0  # Pillow opens some 16-bit files as "I"
    elif img.mode == "F" and a.min() >= 0 and a.max() <= 1:
        pass
    else:  # arbitrary range: stretch min..max
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return Image.fromarray(np.round(a * 255).astype(np.uint8), mode="L")


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB: transparency on white, 16-bit scaled, CMYK and friends converted."""
    if img.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        img = _to_8bit(img)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode in ("P", "L", "RGB") and "transparency" in img.info
    )
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def load_image(data: bytes | str | Path, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an uploaded image safely.

    Args:
        data: the file's bytes or its path.
        max_bytes: refuse files larger than this.
        max_pixels: refuse images whose header declares more pixels than this (checked before decoding).
    Returns:
        an RGB ``PIL.Image.Image``, EXIF orientation applied; the first frame of an animation.
    Raises:
        ImageError: with a message for the user.
    """
    raw = _read_bytes(data, max_bytes)
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        log.warning("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set globally; truncated files may slip through")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        img = _open(raw, max_pixels)
        _check_header(img, max_pixels)
        return _decode(img, max_pixels)


def _open(raw: bytes, max_pixels: int) -> Image.Image:
    """Pillow's lazy open (the header only): ImageError for what is not an image or a damaged header."""
    try:
        return Image.open(io.BytesIO(raw))
    except UnidentifiedImageError:
        raise ImageError(
            message(
                N_("this file is not an image we can read; please upload a {accepted} file"),
                accepted=message(ACCEPTED),
            ),
            NOT_AN_IMAGE,
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(_too_many_pixels(None, max_pixels), TOO_MANY_PIXELS) from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(
            message(
                N_("this image file is damaged ({error}); please upload an intact {accepted} file"),
                error=str(e),
                accepted=message(ACCEPTED),
            )
        ) from None


def _check_header(img: Image.Image, max_pixels: int) -> None:
    """Refuse, before decoding, a format we do not accept or a declared size that is empty or too large."""
    if img.format not in FORMATS:
        raise ImageError(
            message(
                N_("{format} images are not accepted; please upload a {accepted} file"),
                format=str(img.format),
                accepted=message(ACCEPTED),
            ),
            NOT_ACCEPTED,
        )
    w, h = img.size
    if w < 1 or h < 1:
        raise ImageError(
            message(N_("the image declares an empty size {w}x{h}; please upload a real picture"), w=w, h=h), EMPTY
        )
    if w * h > max_pixels:
        raise ImageError(_too_many_pixels((w, h), max_pixels), TOO_MANY_PIXELS)


def _decode(img: Image.Image, max_pixels: int) -> Image.Image:
    """The first frame, decoded in full (truncated or corrupt data fails here, not later), upright, as RGB."""
    size = img.size  # as declared: the message names it even when the decoded image is turned
    try:
        img.seek(0)  # first frame of an animation
        img.load()
        img = ImageOps.exif_transpose(img)
        return to_rgb(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(_too_many_pixels(size, max_pixels), TOO_MANY_PIXELS) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as e:
        raise ImageError(
            message(
                N_("this {format} file is truncated or corrupt ({error}); please upload an intact {accepted} file"),
                format=str(img.format),
                error=str(e),
                accepted=message(ACCEPTED),
            )
        ) from None


def check_min_size(img: Image.Image, min_side: int = MIN_SIDE) -> None:
    """Refuse a picture too small for a prediction or a map to mean anything (``MIN_SIDE``): ImageError."""
    w, h = img.size
    if min(w, h) < min_side:
        text = N_(
            "the image is {w} x {h} pixels. A network's answer and its map need at least {min} pixels on the "
            "shorter side: below that the network sees mostly pixels the resize invented, so there is nothing "
            "to explain. Please upload a larger picture."
        )
        raise ImageError(message(text, w=w, h=h, min=min_side), TOO_SMALL)


def _too_many_pixels(size: tuple[int, int] | None, max_pixels: int) -> tuple[str, dict]:
    limit = max_pixels / 1e6
    if size:
        text = N_(
            "this image declares {w} x {h} = {mp:,.0f} megapixels, which is over the {limit:.0f}-megapixel limit; "
            "please upload a smaller picture (a few megapixels is plenty: the models see 224 x 224)"
        )
        return message(text, w=size[0], h=size[1], mp=size[0] * size[1] / 1e6, limit=limit)
    text = N_(
        "this image is over the {limit:.0f}-megapixel limit; "
        "please upload a smaller picture (a few megapixels is plenty: the models see 224 x 224)"
    )
    return message(text, limit=limit)


def preprocess(
    img: Image.Image,
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
    resize: Literal["crop", "stretch"] = "crop",
    resize_size: int | None = None,
    channels: int = 3,
) -> tuple[torch.Tensor, np.ndarray]:
    """Resize, normalise and keep the picture the tensor was made from.

    Args:
        img: an RGB image (from ``load_image``).
        size: the model's input side, e.g. 224 or 32.
        mean, std: per-channel normalisation (length ``channels`` or 3).
        resize: "crop" = shorter side to ``resize_size`` then a centred ``size`` crop (ImageNet eval);
            "stretch" = the whole image to ``size`` x ``size`` (small 32x32 models).
        resize_size: shorter side before the crop; default ``round(size * 256 / 224)``.
        channels: 3, or 1 for a grayscale model (luminance).
    Returns:
        ``(x, display)``: x (1, channels, size, size) float32; display (size, size, 3) uint8 with
        exactly the pixels x was made from.
    """
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if resize not in ("crop", "stretch"):
        raise ValueError(f"resize must be 'crop' or 'stretch', got {resize!r}")
    img = to_rgb(img) if img.mode != "RGB" else img
    w, h = img.size
    if resize == "crop":
        box = _crop_box(w, h, size, resize_size or round(size * 256 / 224))
        out = img.resize((size, size), Image.Resampling.BILINEAR, box=box)
    else:
        out = img.resize((size, size), Image.Resampling.BILINEAR)
    display = np.asarray(out, dtype=np.uint8).copy()  # (H, W, 3)
    if channels == 1:
        gray = np.asarray(out.convert("L"), dtype=np.uint8)
        display = np.repeat(gray[:, :, None], 3, axis=2)
        pixels = gray[None].astype(np.float32) / 255.0  # (1, H, W)
    else:
        pixels = display.transpose(2, 0, 1).astype(np.float32) / 255.0  # (3, H, W)
    m = torch.tensor(list(mean)[:channels], dtype=torch.float32).view(-1, 1, 1)
    s = torch.tensor(list(std)[:channels], dtype=torch.float32).view(-1, 1, 1)
    if m.numel() != channels or s.numel() != channels:
        raise ValueError(f"mean and std need {channels} values, got {list(mean)} and {list(std)}")
    x = (torch.from_numpy(pixels) - m) / s
    return x.unsqueeze(0), display


def _crop_box(w: int, h: int, size: int, resize_size: int) -> tuple[float, float, float, float]:
    """The box of a w x h source that torchvision's Resize(resize_size) then CenterCrop(size) keeps.

    Resizing that box straight to size x size samples the same points as the two steps, and a 10000 x 10
    image never builds a huge intermediate."""
    short, long = min(w, h), max(w, h)
    new_long = max(int(resize_size * long / short), 1)
    nw, nh = (resize_size, new_long) if w <= h else (new_long, resize_size)
    left = max(int(round((nw - size) / 2.0)), 0)
    top = max(int(round((nh - size) / 2.0)), 0)
    sx, sy = w / nw, h / nh
    return (left * sx, top * sy, min(left + size, nw) * sx, min(top + size, nh) * sy)


def as_batch(x: torch.Tensor, model: torch.nn.Module | None = None, single: bool = False) -> torch.Tensor:
    """(C, H, W) -> (1, C, H, W); (B, C, H, W) as it is (B must be 1 when ``single``); detached float,
    on ``model``'s device when one is given."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"the image must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4 or (single and x.shape[0] != 1):
        want = "one image of shape (C, H, W) or (1, C, H, W)" if single else "(C, H, W) or (B, C, H, W)"
        raise ValueError(f"expected {want}, got shape {tuple(x.shape)}")
    x = x.detach().float()
    return x if model is None else x.to(model_device(model))


def sample_images() -> dict[str, Path]:
    """Built-in photographs (see assets/samples/LICENSES.md): name -> path."""
    return {p.stem: p for p in sorted(SAMPLES_DIR.glob("*.jpg"))}
