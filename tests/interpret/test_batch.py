"""Many pictures explained at once: the crafted corpus through the safe loader, batched Grad-CAM against the
one-picture Grad-CAM, and the bundle (folder and zip) with the user's names made safe."""

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.charts.colors import overlay_rgb
from explorer.data.gather import gather, path_sources
from explorer.interpret import batch, bundle
from explorer.interpret.gradcam import grad_cam, predict
from explorer.interpret.model_cards import load_model, prepare_image, untrained_card
from explorer.models.config import ResNetConfig
from tests.support.crafted import corpus, write_corpus


@pytest.fixture(scope="module")
def net():
    card = untrained_card(ResNetConfig("cifar", 8, width=8))
    return card, load_model(card)


@pytest.fixture(scope="module")
def gathered(tmp_path_factory):
    return gather(path_sources([write_corpus(tmp_path_factory.mktemp("c") / "photos")]))


def test_the_corpus_keeps_the_right_pictures_and_skips_the_wrong_ones_with_reasons(gathered):
    kept = {p.name for p in gathered.pictures}
    good = {f"photos/{n}" for n, (_, ok) in corpus().items() if ok} | {"photos/bomb.zip/ok.png"}
    assert kept == good
    reasons = {s.name: s.reason for s in gathered.skipped}
    assert reasons == {
        "photos/truncated.png": "damaged or truncated",
        "photos/huge.png": "too many pixels",
        "photos/notes.jpg": "not an image",
        "photos/bomb.zip/bomb.png": "file too large",
        "photos/climbing.zip": "unsafe zip",
    }
    rotated = next(p for p in gathered.pictures if p.name.endswith("rotated.jpg"))
    assert rotated.image.size == (30, 60)  # EXIF orientation applied


def test_uploads_as_bytes_and_the_picture_limit():
    data = corpus()
    g = gather([("a.png", data["good.png"][0]), ("b.gif", data["animated.gif"][0]), ("c.jpg", data["cmyk.jpg"][0])], 2)
    assert [p.name for p in g.pictures] == ["a.png", "b.gif"]
    assert [s.reason for s in g.skipped] == ["too many files"] and "1 more" in g.skipped[0].message


def test_large_pictures_are_kept_shrunk():
    from PIL import Image

    from tests.support.crafted import save

    g = gather([("big.png", save(Image.new("RGB", (2000, 1000), (9, 9, 9)), "PNG"))])
    assert g.pictures[0].image.size == (640, 320)


@pytest.mark.parametrize("target", [None, 3])
def test_batched_grad_cam_is_grad_cam_picture_by_picture(net, gathered, target):
    card, model = net
    x = torch.cat([prepare_image(card, p.image)[0] for p in gathered.pictures])
    probs, targets, maps, layer = batch.grad_cam_batch(model, x, None, target)
    for i in range(len(x)):
        one = grad_cam(model, x[i : i + 1], None, target)
        assert int(targets[i]) == one.target and layer == one.layer
        np.testing.assert_allclose(maps[i], one.map, atol=1e-5)
        np.testing.assert_allclose(probs[i].numpy(), predict(model, x[i : i + 1]), atol=1e-5)


def test_explain_pictures_in_batches_with_progress_and_stop(net, gathered):
    card, model = net
    seen = []
    out = batch.explain_pictures(card, model, gathered.pictures, batch_size=3, progress=lambda i, n: seen.append(i))
    assert [r.name for r in out] == [p.name for p in gathered.pictures] and seen == [3, 6, 7]
    assert all(len(r.top) == 5 and r.top[0][0] == r.target and r.map.shape == (32, 32) for r in out)

    class StopAfterOne:
        calls = 0

        def is_set(self):
            self.calls += 1
            return self.calls > 1

    assert len(batch.explain_pictures(card, model, gathered.pictures, batch_size=3, stop=StopAfterOne())) == 3


def test_another_method_by_name_and_the_outline_share(net):
    from explorer.data.gather import Picture
    from explorer.data.shapes import make_shapes

    card, model = net
    shapes = make_shapes(2, size=32, seed=0)
    pics = [Picture(f"s{i}.png", _pil(shapes.images[i]), shapes.masks[i].numpy().astype(bool)) for i in range(2)]
    out = batch.explain_pictures(card, model, pics, method="saliency")
    assert all(r.method == "saliency" and r.inside is not None and 0 <= r.inside <= 1 for r in out)
    with pytest.raises(ValueError, match="unknown method"):
        batch.explain_pictures(card, model, pics, method="nonsense")


def _pil(chw):
    from PIL import Image

    return Image.fromarray((np.asarray(chw).transpose(1, 2, 0) * 255).round().astype(np.uint8))


def test_safe_names():
    assert bundle.safe_stem("holiday/../Cat 1.JPG") == "holiday__Cat_1"
    assert bundle.safe_stem("../../etc/passwd") == "etc__passwd"
    assert bundle.safe_stem("C:\\Users\\me\\a b.png") == "C__Users__me__a_b"
    assert bundle.safe_stem("...") == "image"
    assert bundle.unique_stems(["a.png", "A.jpg", "a.gif"]) == ["a", "A-2", "a-3"]


def test_bundle_as_a_folder_and_as_a_zip_hold_the_same_files(net, gathered, tmp_path):
    card, model = net
    out = batch.explain_pictures(card, model, gathered.pictures)

    def entries():
        return bundle.bundle_entries(out, card.classes, card.label, overlay_rgb, gathered.skipped)

    written = bundle.write_bundle(tmp_path / "out", entries())
    assert all(p.is_relative_to((tmp_path / "out").resolve()) for p in written)
    assert {p.name for p in tmp_path.iterdir()} == {"out"}  # nothing beside the folder
    zf = zipfile.ZipFile(io.BytesIO(bundle.bundle_zip(entries())))
    names = set(zf.namelist())
    assert names == {p.relative_to((tmp_path / "out").resolve()).as_posix() for p in written}
    assert "overlays/photos__bomb.zip__ok.png" in names and "maps/photos__rotated.npy" in names
    rows = list(csv.DictReader(io.StringIO(zf.read("predictions.csv").decode())))
    assert [r["file"] for r in rows] == [p.name for p in gathered.pictures]
    r = rows[0]
    assert r["top1_class"] == card.classes[out[0].top[0][0]] and float(r["top1_probability"]) == pytest.approx(
        out[0].top[0][1], abs=1e-6
    )
    assert r["method"] == "gradcam" and r["layer"] == out[0].layer and r["network"] == card.label
    cam = np.load(io.BytesIO(zf.read("maps/photos__good.npy")))
    np.testing.assert_array_equal(cam, out[[x.name for x in out].index("photos/good.png")].map)
    skipped = list(csv.DictReader(io.StringIO(zf.read("skipped.csv").decode())))
    assert {s["file"] for s in skipped} == {s.name for s in gathered.skipped}


def test_write_bundle_refuses_a_path_out_of_its_folder(tmp_path):
    with pytest.raises(ValueError, match="outside"):
        bundle.write_bundle(tmp_path / "out", iter([("../escape.txt", b"x")]))
    assert not (tmp_path / "escape.txt").exists()


def test_the_corpus_keeps_peak_memory_low(tmp_path):
    """In a fresh process: gathering the corpus (a 144-megapixel bomb, a zip entry declaring 2 GB) and a zip of
    40 pictures of 2000 x 1500 (kept shrunk) raises the peak resident memory by far less than what they decode to."""
    import json
    import subprocess
    import sys

    from PIL import Image

    from tests.support.crafted import save, zip_of

    write_corpus(tmp_path / "corpus")
    big = save(Image.new("RGB", (2000, 1500), (40, 90, 160)), "JPEG")
    (tmp_path / "corpus" / "big.zip").write_bytes(zip_of({f"p{i}.jpg": big for i in range(40)}))
    (tmp_path / "warm").mkdir()
    (tmp_path / "warm" / "a.png").write_bytes(corpus()["good.png"][0])
    script = (
        "import json, resource, sys\n"
        "from pathlib import Path\n"
        "from explorer.data.gather import gather, path_sources\n"
        "gather(path_sources([sys.argv[2]]))  # warm up: plugins and first allocations\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "g = gather(path_sources([sys.argv[1]]))\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(json.dumps({'rise_mb': (after - before) / 1024, 'n': len(g.pictures)}))\n"
    )
    root = Path(__file__).resolve().parents[2]
    args = [sys.executable, "-c", script, str(tmp_path / "corpus"), str(tmp_path / "warm")]
    out = subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["n"] == 7 + 40
    assert result["rise_mb"] < 100, result  # 40 decoded pictures alone would be 360 MB; the bomb 432 MB as RGB
