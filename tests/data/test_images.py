"""Image loading: every refusal and every conversion with a real file crafted by Pillow."""

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.data.images import ImageError, load_image, preprocess, sample_images


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _save(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny valid PNG whose IHDR is patched (with a correct CRC) to declare width x height."""
    raw = bytearray(_png_bytes(Image.new("RGB", (8, 8), (10, 20, 30))))
    assert raw[12:16] == b"IHDR"
    raw[16:24] = struct.pack(">II", width, height)
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])))
    return bytes(raw)


@pytest.mark.parametrize("side", [100_000, 7_000])
def test_bomb_header_refused_before_decoding(tmp_path, side):
    # 100000^2 trips Pillow's own error; 7000^2 = 49 MP passes Pillow's hard limit but not ours
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_declaring(side, side))
    with pytest.raises(ImageError, match="megapixel limit"):
        load_image(path)


def test_pixel_limit_names_declared_size(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(_png_declaring(3000, 2000))
    with pytest.raises(ImageError, match="3000 x 2000"):
        load_image(path, max_pixels=1_000_000)


def test_truncated_png_refused(tmp_path):
    rng = np.random.default_rng(0)
    raw = _png_bytes(Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)))
    path = tmp_path / "cut.png"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ImageError, match="truncated or corrupt"):
        load_image(path)


def test_text_named_jpg_refused(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_text("this is not a picture\n" * 20)
    with pytest.raises(ImageError, match="not an image") as e:
        load_image(path)
    assert "PNG, JPEG" in str(e.value)  # says what is accepted


def test_byte_limit_and_empty(tmp_path):
    raw = _png_bytes(Image.new("RGB", (32, 32)))
    with pytest.raises(ImageError, match="over the"):
        load_image(raw, max_bytes=len(raw) - 1)
    path = tmp_path / "x.png"
    path.write_bytes(raw)
    with pytest.raises(ImageError, match="over the"):
        load_image(path, max_bytes=10)
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")


def test_16bit_png_scaled_not_clipped(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 256).round().astype(np.uint16), (4, 1))  # (4, 256)
    path = tmp_path / "deep.png"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode.startswith("I")
    out = np.asarray(load_image(path))
    assert out.shape == (4, 256, 3) and out.dtype == np.uint8
    np.testing.assert_allclose(out[0, :, 0], ramp[0] / 257.0, atol=1)  # clipping would saturate at 255 early
    assert len(np.unique(out[0, :, 0])) > 200


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path, quality=95)  # pure red in CMYK
    out = np.asarray(load_image(path)).astype(int)
    assert abs(out[8, 8] - np.array([255, 0, 0])).max() < 10


def test_animated_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (12, 12), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(path).n_frames == 3
    out = np.asarray(load_image(path))
    assert out.shape == (12, 12, 3) and tuple(out[6, 6]) == (255, 0, 0)


def test_exif_rotated_jpeg(tmp_path):
    stored = np.zeros((10, 20, 3), dtype=np.uint8)  # 20 wide, 10 high: left red, right blue
    stored[:, :10] = (255, 0, 0)
    stored[:, 10:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    out = load_image(path)
    assert out.size == (10, 20)  # now 10 wide, 20 high
    a = np.asarray(out).astype(int)
    assert a[2, 5, 0] > 200 and a[2, 5, 2] < 50  # stored left (red) is displayed on top
    assert a[17, 5, 2] > 200 and a[17, 5, 0] < 50


@pytest.mark.parametrize("size", [(1, 1), (10000, 10), (10, 10000)])
def test_degenerate_sizes_load_and_preprocess(tmp_path, size):
    path = tmp_path / "odd.png"
    Image.new("RGB", size, (200, 100, 50)).save(path)
    img = load_image(path)
    assert img.size == size
    for side, mode in ((224, "crop"), (32, "stretch")):
        x, display = preprocess(img, side, [0.0] * 3, [1.0] * 3, resize=mode)
        assert x.shape == (1, 3, side, side) and display.shape == (side, side, 3)
        np.testing.assert_allclose(display[side // 2, side // 2], (200, 100, 50), atol=1)


def test_transparency_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))  # fully transparent red
    rgba.putpixel((0, 0), (0, 0, 255, 255))
    assert tuple(np.asarray(load_image(_png_bytes(rgba)))[4, 4]) == (255, 255, 255)
    assert tuple(np.asarray(load_image(_png_bytes(rgba)))[0, 0]) == (0, 0, 255)
    la = Image.new("LA", (8, 8), (0, 128))  # half-transparent black on white -> mid grey
    assert abs(int(np.asarray(load_image(_png_bytes(la)))[4, 4, 0]) - 127) <= 1
    p = Image.new("P", (8, 8), 1)
    p.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    p.putpixel((0, 0), 0)
    p.info["transparency"] = 1  # palette index 1 (green) is transparent
    out = np.asarray(load_image(_save(p, "PNG", transparency=1)))
    assert tuple(out[4, 4]) == (255, 255, 255) and tuple(out[0, 0]) == (0, 0, 0)


@pytest.mark.parametrize("fmt", ["WEBP", "TIFF", "BMP", "JPEG", "PNG"])
def test_formats_round_trip(fmt):
    img = Image.new("RGB", (20, 12), (30, 160, 90))
    kwargs = {"lossless": True} if fmt == "WEBP" else {}
    out = np.asarray(load_image(_save(img, fmt, **kwargs))).astype(int)
    assert out.shape == (12, 20, 3)
    assert abs(out[6, 10] - np.array([30, 160, 90])).max() <= 3


def test_grayscale_mode_l(tmp_path):
    out = np.asarray(load_image(_png_bytes(Image.new("L", (5, 5), 77))))
    assert out.shape == (5, 5, 3) and (out == 77).all()


def test_preprocess_matches_torchvision_and_display():
    from torchvision import transforms

    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 255, (30, 40, 3)), np.ones((10, 10, 1))).astype(np.uint8)  # 300 x 400
    img = Image.fromarray(smooth)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    x, display = preprocess(img, 224, mean, std)
    ref = transforms.Compose(
        [transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(), transforms.Normalize(mean, std)]
    )(img).unsqueeze(0)
    assert x.shape == ref.shape == (1, 3, 224, 224)
    assert (x - ref).abs().max() < 0.02  # same pixels, up to uint8 rounding
    back = torch.from_numpy(display).permute(2, 0, 1).float() / 255  # display is exactly what x was made of
    torch.testing.assert_close(x[0], (back - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1))


def test_preprocess_one_channel():
    img = Image.new("RGB", (40, 40), (255, 0, 0))
    x, display = preprocess(img, 32, [0.5], [0.5], resize="stretch", channels=1)
    assert x.shape == (1, 1, 32, 32) and display.shape == (32, 32, 3)
    expected = (round(0.299 * 255) / 255 - 0.5) / 0.5  # ITU-R 601 luminance of pure red
    assert abs(float(x[0, 0, 5, 5]) - expected) < 0.01


def test_sample_images_load():
    samples = sample_images()
    assert len(samples) >= 3
    for path in samples.values():
        img = load_image(path)
        assert max(img.size) <= 512 and img.mode == "RGB"


def test_too_small_to_explain_is_refused_with_the_reason():
    from PIL import Image

    from explorer.data.images import MIN_SIDE, TOO_SMALL, ImageError, check_min_size

    check_min_size(Image.new("RGB", (MIN_SIDE, 200)))  # the shorter side at the limit: fine
    for size in [(1, 1), (MIN_SIDE - 1, 300)]:
        with pytest.raises(ImageError) as e:
            check_min_size(Image.new("RGB", size))
        assert e.value.reason == TOO_SMALL and f"{size[0]} x {size[1]} pixels" in str(e.value)
