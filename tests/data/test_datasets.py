"""Datasets: shapes determinism and masks; CIFAR-10 / MNIST read through torchvision from files written here."""

import gzip
import io
import pickle
import struct
import time
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.data.datasets import load_dataset
from explorer.data.folder import load_image_folder
from explorer.data.shapes import SHAPE_CLASSES, make_shapes
from explorer.errors import PlainError
from explorer.i18n import language, translate


def test_shapes_are_deterministic_and_seed_dependent():
    a, b, c = make_shapes(50, seed=3), make_shapes(50, seed=3), make_shapes(50, seed=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels) and torch.equal(a.masks, b.masks)
    assert not torch.equal(a.images, c.images)


def test_shapes_types_balance_and_range():
    s = make_shapes(200, size=40, seed=0)
    assert s.images.shape == (200, 3, 40, 40) and s.images.dtype == torch.float32
    assert s.labels.dtype == torch.int64 and s.masks.shape == (200, 40, 40) and s.masks.dtype == torch.bool
    assert s.images.min() >= 0.0 and s.images.max() <= 1.0
    assert s.labels.bincount(minlength=10).tolist() == [20] * 10
    assert len(SHAPE_CLASSES) == 10


def test_masks_mark_the_shape_pixels():
    s = make_shapes(100, seed=1)
    m = s.masks.unsqueeze(1).expand_as(s.images)
    for i in range(100):
        inside, outside = s.images[i][m[i]].view(3, -1), s.images[i][~m[i]].view(3, -1)
        assert inside.shape[1] > 20 and outside.shape[1] > 20  # a visible shape that does not fill the frame
        # foreground and background are flat colours plus light noise: far apart, each tight
        gap = (inside.mean(1) - outside.mean(1)).abs().mean()
        assert gap > 0.3, (i, gap)


def test_shape_areas_match_geometry():
    """A ring's area is (1 - 0.6^2) of its disc's; a square's is 2/pi of its circumscribed circle's."""
    s = make_shapes(2000, size=64, seed=2)
    area = s.masks.flatten(1).float().sum(1)
    ring, circle = area[s.labels == 1].mean(), area[s.labels == 0].mean()
    assert ring / circle == pytest.approx((1 - 0.36) / 0.95**2, rel=0.05)
    square = area[s.labels == 3].mean()
    assert square / circle == pytest.approx((2 / np.pi) / 0.95**2, rel=0.05)


def test_shapes_generation_is_fast():
    """10,000 images in under 5 s of CPU time on one thread (so under 5 s wall on 2 free cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        make_shapes(100)
        t = time.process_time()  # CPU time: robust to other processes sharing the machine
        make_shapes(10_000)
        assert time.process_time() - t < 5.0
    finally:
        torch.set_num_threads(threads)


def test_load_shapes_splits_differ_and_carry_info():
    train, test = load_dataset("shapes", "train", n=64), load_dataset("shapes", "test", n=64)
    assert not torch.equal(train.images, test.images)
    assert train.info.classes == SHAPE_CLASSES and train.info.in_channels == 3 and train.info.image_size == 32
    x, y = train.batch(torch.arange(8))
    assert x.shape == (8, 3, 32, 32) and abs(x.mean()) < 0.5 and torch.equal(y, train.labels[:8])
    assert train.masks is not None and train.masks.shape == (64, 32, 32)


def _write_cifar(root, n_per_batch=4):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    expected = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n_per_batch).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": labels, "batch_label": name}, f)
        expected[name] = (data, labels)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names, "num_cases_per_batch": n_per_batch}, f)
    return expected


def test_cifar10_through_torchvision_reader(tmp_path):
    expected = _write_cifar(tmp_path)
    ds = load_dataset("cifar10", "test", root=tmp_path, verify=False)
    data, labels = expected["test_batch"]
    # CIFAR rows are channel-major 32x32 planes
    assert torch.equal(ds.images, torch.from_numpy(data.reshape(-1, 3, 32, 32)))
    assert ds.labels.tolist() == labels
    assert ds.info.classes[0] == "airplane" and ds.info.in_channels == 3
    train = load_dataset("cifar10", "train", root=tmp_path, verify=False)
    assert len(train) == 20


def test_cifar10_checksums_are_checked_by_default(tmp_path):
    _write_cifar(tmp_path)
    with pytest.raises(PlainError, match="cifar-10-batches-py"):
        load_dataset("cifar10", "train", root=tmp_path)  # these files do not match the published md5 sums


@pytest.mark.parametrize("download", [False, True])
def test_missing_dataset_says_where_to_put_files_in_plain_words(tmp_path, monkeypatch, download):
    from torchvision import datasets as tvd

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tvd.MNIST, "download", offline)  # no network in tests: a download fails as offline
    with pytest.raises(PlainError) as e:
        load_dataset("mnist", root=tmp_path / "data", download=download)
    text = str(e.value)
    assert "data/MNIST/raw" in text and "train-images-idx3-ubyte" in text
    assert str(tmp_path) not in text  # never the server's full path
    assert "download=True" not in text and "Error" not in text and "torchvision" not in text
    assert ("no internet" in text) == download and ("--download" in text) != download
    with language("zh"):
        assert "MNIST" in translate(e.value.message) and "数据" in translate(e.value.message)


def _idx(array: np.ndarray) -> bytes:
    """The idx (SN3) format: magic 0x0000 + dtype 0x08 (uint8) + ndim, big-endian dims, data."""
    header = struct.pack(">HBB", 0, 8, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.mark.parametrize(("name", "folder", "gz"), [("mnist", "MNIST", True), ("fashion-mnist", "FashionMNIST", False)])
def test_mnist_family_through_torchvision_reader(tmp_path, name, folder, gz):
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    arrays = {}
    for split in ("train", "t10k"):
        arrays[split] = (rng.integers(0, 256, (6, 28, 28)), rng.integers(0, 10, 6))
        for kind, arr in zip(("images-idx3", "labels-idx1"), arrays[split], strict=True):
            path = raw / f"{split}-{kind}-ubyte"
            if gz:
                with gzip.open(f"{path}.gz", "wb") as f:
                    f.write(_idx(arr))
            else:
                path.write_bytes(_idx(arr))
    ds = load_dataset(name, "test", root=tmp_path, size=32)
    assert ds.images.shape == (6, 1, 32, 32) and ds.info.in_channels == 1 and ds.info.image_size == 32
    assert ds.labels.tolist() == arrays["t10k"][1].tolist()
    native = load_dataset(name, "train", root=tmp_path)
    assert torch.equal(native.images[:, 0], torch.from_numpy(arrays["train"][0].astype(np.uint8)))


def _png(color, size=(20, 12)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def test_image_folder_and_zip(tmp_path):
    for cls, color in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
        (tmp_path / "pets" / cls).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "pets" / cls / f"{i}.png").write_bytes(_png(color))
    (tmp_path / "pets" / "dog" / "broken.jpg").write_bytes(b"not an image")
    ds = load_image_folder(tmp_path / "pets", size=16)
    assert ds.info.classes == ("cat", "dog") and len(ds) == 6
    assert [(f.name, f.reason) for f in ds.skipped] == [("dog/broken.jpg", "not an image")]
    assert ds.images.shape == (6, 3, 16, 16)
    assert ds.images[ds.labels == 0][:, 0].float().mean() == 255  # cats are red
    zpath = tmp_path / "pets.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in sorted((tmp_path / "pets").rglob("*.*")):
            zf.write(f, f"pets/{f.relative_to(tmp_path / 'pets')}")
    zds = load_image_folder(zpath, size=16)
    assert zds.info.classes == ("cat", "dog") and torch.equal(zds.images, ds.images)
    assert [(f.name, f.reason) for f in zds.skipped] == [("pets/dog/broken.jpg", "not an image")]
    train, test = load_dataset(str(zpath), "train", size=16), load_dataset(str(zpath), "test", size=16)
    assert len(train) + len(test) == 6


@pytest.mark.parametrize("bad", ["../evil/x.png", "/abs/x.png"])
def test_zip_with_unsafe_paths_is_refused(tmp_path, bad):
    zpath = tmp_path / "bad.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("a/1.png", _png((0, 0, 0)))
        zf.writestr("b/1.png", _png((9, 9, 9)))
        zf.writestr(bad, _png((1, 1, 1)))
    with pytest.raises(ValueError, match="refusing the zip"):
        load_image_folder(zpath)


def test_too_many_classes_is_refused(tmp_path):
    for i in range(21):
        (tmp_path / f"c{i:02d}").mkdir()
        (tmp_path / f"c{i:02d}" / "x.png").write_bytes(_png((i, i, i)))
    with pytest.raises(ValueError, match="at most 20"):
        load_image_folder(tmp_path)


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("imagenet-21k")
