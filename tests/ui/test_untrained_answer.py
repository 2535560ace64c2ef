"""Explain's note on an untrained network's answer (ui/models_ui.py), measured: a residual net's softmax near
one-hot, its plain twin's near chance, because the residual net's activations grow block after block."""

import pytest
import torch
from PIL import Image

from explorer.data.shapes import make_shapes
from explorer.interpret.gradcam import predict
from explorer.interpret.model_cards import load_model, prepare_image, untrained_card
from explorer.interpret.probes import record_activations
from explorer.models.config import ResNetConfig


@pytest.fixture(scope="module")
def shapes():
    s = make_shapes(10, 32, seed=1)  # one of each class
    return [Image.fromarray((img.permute(1, 2, 0).numpy() * 255).astype("uint8")) for img in s.images]


def _answers(residual: bool, shapes) -> tuple[list[float], list[float]]:
    """Top-1 probability per shape, and the mean activation norm at the output of each of layer1's blocks."""
    card = untrained_card(ResNetConfig("cifar", 20, residual=residual))
    model = load_model(card)
    tops, norms = [], []
    for img in shapes:
        x, _display = prepare_image(card, img)
        tops.append(float(predict(model, x).max()))
    names = [f"layer1.{i}" for i in range(3)]
    x = torch.cat([prepare_image(card, img)[0] for img in shapes])
    with torch.no_grad(), record_activations(model, names) as acts:
        model(x)
    norms = [float(acts[n].flatten(1).norm(dim=1).mean()) for n in names]
    return tops, norms


def test_an_untrained_resnet20_answers_near_one_hot_and_its_plain_twin_near_chance(shapes):
    res_tops, res_norms = _answers(True, shapes)
    plain_tops, plain_norms = _answers(False, shapes)
    assert min(res_tops) > 0.95 and sorted(res_tops)[len(res_tops) // 2] > 0.99  # "about 99% on one class"
    assert max(plain_tops) < 0.2  # ten classes: chance is 0.1
    assert res_norms[0] < res_norms[1] < res_norms[2]  # the activations grow block after block
    assert res_norms[2] > 1.5 * plain_norms[2]


def test_the_note_says_what_was_measured(monkeypatch):
    from explorer.ui import models_ui

    shown = []
    monkeypatch.setattr(models_ui.st, "caption", shown.append)
    models_ui.prediction_note_ui(untrained_card(ResNetConfig("cifar", 20)), photo=False)
    note = shown[0]
    assert "often comes out near one-hot: from 56 layers on, one class gets at least 99%, whatever the image" in note
    assert "A plain one stays near chance" in note
