"""A network file a user uploads: torchvision's .pth, or the Train page's checkpoints zip, loaded back exactly."""

import io
import json
import zipfile
from pathlib import Path

import pytest
import torch
import torchvision

from explorer.interpret import model_cards
from explorer.interpret.network_files import load_network_file
from explorer.models.pretrained import WeightsError
from explorer.training.runs import load_run

SHAPES_RUN = Path(__file__).resolve().parents[2] / "assets" / "runs" / "shapes"


def checkpoints_zip(run_dir: Path, drop: str | None = None, config: dict | None = None) -> bytes:
    """The Train page's download (training_view.downloads_ui): <run>/<network>.pt and <run>/config.json."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted((run_dir / "checkpoints").glob("*.pt")):
            if f.name != drop:
                zf.write(f, f"{run_dir.name}/{f.name}")
        if config is None:
            zf.write(run_dir / "config.json", f"{run_dir.name}/config.json")
        else:
            zf.writestr(f"{run_dir.name}/config.json", json.dumps(config))
    return buf.getvalue()


def _logits(model, size):
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return model(x)


@pytest.fixture(scope="module")
def shapes_run():
    if not (SHAPES_RUN / "config.json").is_file():
        pytest.skip("assets/runs/shapes is not here (make assets)")
    return load_run(SHAPES_RUN)


def test_a_runs_checkpoints_zip_gives_back_every_network_exactly(shapes_run):
    loaded = load_network_file(checkpoints_zip(SHAPES_RUN), "shapes-checkpoints.zip")
    reference = shapes_run.load_models()
    assert sorted(card.config.name for card, _m in loaded) == sorted(reference)
    for card, model in loaded:
        assert card.source == model_cards.SESSION and card.label == f"{card.config.name} from shapes-checkpoints.zip"
        assert card.classes == tuple(shapes_run.dataset.classes) and card.image_size == shapes_run.dataset.image_size
        torch.testing.assert_close(_logits(model, 32), _logits(reference[card.config.name].eval(), 32))
    cards = [card for card, _m in loaded]
    twin = model_cards.twin_card(cards[0], cards)  # plain and residual come back as a pair
    assert twin is not None and twin.config.residual != cards[0].config.residual


def test_a_zip_that_is_not_a_run_says_what_it_expected(shapes_run):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("photos/cat.jpg", b"not really")
    with pytest.raises(WeightsError, match="not the checkpoints download of a run"):
        load_network_file(buf.getvalue(), "photos.zip")
    with pytest.raises(WeightsError, match="has no shapes/resnet-20.pt"):
        load_network_file(checkpoints_zip(SHAPES_RUN, drop="resnet-20.pt"), "x.zip")
    meta = json.loads((SHAPES_RUN / "config.json").read_text())
    meta["models"]["ResNet-20"]["depth"] = 32  # the weights no longer fit the configuration
    with pytest.raises(WeightsError, match="does not fit the network"):
        load_network_file(checkpoints_zip(SHAPES_RUN, config=meta), "x.zip")


def test_a_torchvision_pth_is_not_taken_for_a_run_zip():
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None).eval()
    buf = io.BytesIO()
    torch.save(reference.state_dict(), buf)  # torch saves a zip too (with a data.pkl inside)
    [(card, model)] = load_network_file(buf.getvalue(), "resnet18.pth")
    assert card.label == "ResNet-18 from resnet18.pth" and len(card.classes) == 1000 and card.image_size == 224
    torch.testing.assert_close(_logits(model, 64), _logits(reference, 64), rtol=1e-4, atol=1e-4)


def test_one_checkpoint_of_a_cifar_run_alone_points_to_the_zip():
    data = (SHAPES_RUN / "checkpoints" / "resnet-20.pt").read_bytes()
    with pytest.raises(WeightsError, match="checkpoints .zip from the Train page"):
        load_network_file(data, "resnet-20.pt")
