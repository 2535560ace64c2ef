"""A user's folder or zip of images goes through the one safe image path (explorer.data.images.load_image).

The crafted files are real: a PNG whose header declares 12000 x 12000 pixels (a 140 KB decompression
bomb that decodes to 144 MB of grey, 432 MB as RGB), a transparent PNG, a JPEG with an EXIF rotation.
"""

import io
import json
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from explorer.data import folder
from explorer.data.folder import load_image_folder, skip_summary

ROOT = Path(__file__).resolve().parents[2]


def bomb_png(width: int, height: int) -> bytes:
    """A valid all-black greyscale PNG of width x height, compressed row by row (never held decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + a row of zeros
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def png(color, size=(20, 12), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format="PNG")
    return buf.getvalue()


def write_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def good_entries() -> dict[str, bytes]:
    return {f"pets/{c}/{i}.png": png(col) for c, col in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))) for i in range(3)}


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = bomb_png(12000, 12000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # Pillow's own warning: it is one
        assert len(data) < 200_000 and Image.open(io.BytesIO(data)).size == (12000, 12000)
    return data


def test_bomb_in_a_zip_is_skipped_with_its_reason(tmp_path, bomb):
    entries = {
        **good_entries(),
        "pets/cat/bomb.png": bomb,
        "pets/dog/notes.png": b"not an image at all",
        "pets/dog/cut.png": png((0, 255, 0))[:60],
    }
    ds = load_image_folder(write_zip(tmp_path / "pets.zip", entries), size=16)
    assert len(ds) == 6 and ds.info.classes == ("cat", "dog")
    reasons = {s.name: s.reason for s in ds.skipped}
    assert reasons == {
        "pets/cat/bomb.png": "too many pixels",
        "pets/dog/notes.png": "not an image",
        "pets/dog/cut.png": "damaged or truncated",
    }
    assert "megapixel limit" in next(s.message for s in ds.skipped if s.name.endswith("bomb.png"))
    assert skip_summary(ds.skipped) == {"too many pixels": 1, "not an image": 1, "damaged or truncated": 1}


def test_our_own_pixel_limit_fires_below_pillows(tmp_path):
    """49 megapixels: under Pillow's own warning (89 MP), over the explorer's 40 MP; refused from the header."""
    ds = load_image_folder(write_zip(tmp_path / "p.zip", {**good_entries(), "pets/dog/big.png": bomb_png(7000, 7000)}))
    (skip,) = ds.skipped
    assert skip.reason == "too many pixels" and "7000 x 7000" in skip.message


@pytest.mark.slow
def test_bomb_zip_keeps_peak_memory_low(tmp_path, bomb):
    """In a fresh process: loading the zip raises the peak resident memory by far less than one decode (144 MB)."""
    zpath = write_zip(tmp_path / "pets.zip", {**good_entries(), "pets/cat/bomb.png": bomb})
    script = (
        "import json, resource, sys\n"
        "from explorer.data.datasets import load_image_folder\n"
        "load_image_folder(sys.argv[2], size=16)  # warm up: plugins and first allocations\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "ds = load_image_folder(sys.argv[1], size=16)\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(json.dumps({'rise_mb': (after - before) / 1024, 'n': len(ds), 'skipped': len(ds.skipped)}))\n"
    )
    warm = write_zip(tmp_path / "warm.zip", good_entries())
    out = subprocess.run(
        [sys.executable, "-c", script, str(zpath), str(warm)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["n"] == 6 and result["skipped"] == 1
    assert result["rise_mb"] < 50, result


def test_zip_over_the_total_pixel_budget_is_refused_before_decoding(tmp_path, monkeypatch):
    decoded = []
    monkeypatch.setattr(folder, "load_image", lambda *a, **k: decoded.append(a) or Image.new("RGB", (4, 4)))
    monkeypatch.setattr(folder, "MAX_TOTAL_PIXELS", 5 * 20 * 12)  # the six 20 x 12 images are 1,440 pixels
    with pytest.raises(ValueError, match="megapixel budget") as e:
        load_image_folder(write_zip(tmp_path / "pets.zip", good_entries()))
    assert "pets.zip" in str(e.value) and str(tmp_path) not in str(e.value)  # no server path in the message
    assert decoded == []


def test_transparency_on_white_and_exif_orientation(tmp_path):
    entries = good_entries()
    entries["pets/cat/clear.png"] = png((0, 0, 0, 0), mode="RGBA")  # fully transparent black
    wide = Image.new("RGB", (40, 20), (255, 0, 0))
    wide.paste((0, 0, 255), (20, 0, 40, 20))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    buf = io.BytesIO()
    wide.save(buf, format="JPEG", quality=95, exif=exif)
    entries["pets/dog/rotated.jpg"] = buf.getvalue()
    ds = load_image_folder(write_zip(tmp_path / "p.zip", entries), size=16)
    assert not ds.skipped and len(ds) == 8
    clear = ds.images[3]  # files load in name order: cat/0, 1, 2, clear; dog/0, 1, 2, rotated
    assert clear.min() == 255  # transparent pixels on white, not black
    rotated = ds.images[-1].float()  # upright after EXIF: red on top, blue at the bottom
    top, bottom = rotated[:, 2, 8], rotated[:, 13, 8]
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60


def test_no_readable_images_is_said_in_the_viewers_language_with_its_reasons(tmp_path):
    """A worker raises the error; a page shows it: the reasons travel as messages, worded where they are read."""
    import pickle

    from explorer.errors import PlainError
    from explorer.i18n import language, translate

    path = write_zip(tmp_path / "pets.zip", {"cat/a.png": b"not a picture", "dog/b.png": b"nor this"})
    with language("en"), pytest.raises(PlainError) as caught:  # the worker's language
        load_image_folder(path)
    message = pickle.loads(pickle.dumps(caught.value)).message  # as it crosses processes
    assert "no readable images in pets.zip (2 files skipped: not an image: 2)" in translate(message)
    with language("zh"):
        shown = translate(message)
    assert "不是图片：2 个" in shown and "not an image" not in shown, shown
