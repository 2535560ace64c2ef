"""The Gradients page's table of the sidebar's untrained networks: complete, and equal to a fresh computation."""

from dataclasses import replace
from itertools import product
from pathlib import Path

import numpy as np
import pytest

from explorer.experiments.init_gradients import (
    PROBE_IMAGES,
    card_gradient_norms,
    load_init_gradients,
    save_init_gradients,
    sidebar_cards,
)
from explorer.interpret import model_cards
from explorer.interpret.gradients import gradient_norms
from explorer.interpret.probes import probe_batch
from explorer.models.config import CIFAR_DEPTHS, ResNetConfig
from explorer.ui.widgets import WIDTHS

FOLDER = Path(__file__).resolve().parents[2] / "assets" / "experiments"


@pytest.fixture(scope="module")
def table():
    t = load_init_gradients(FOLDER)
    assert t is not None, "assets/experiments/init_gradients.json is missing: python -m explorer precompute"
    return t


def test_the_table_covers_every_network_the_sidebar_offers(table):
    # the sidebar's own choices (explorer.ui.widgets.network_ui, block_ui): a depth or width added there without
    # regenerating the asset fails here
    for depth, residual, shortcut, width, preact in product(
        CIFAR_DEPTHS, (True, False), ("A", "B"), WIDTHS["cifar"], (False, True)
    ):
        config = ResNetConfig("cifar", depth, residual=residual, shortcut=shortcut, width=width, preact=preact)
        card = model_cards.untrained_card(config)
        for c in (card, model_cards.twin_card(card)):  # the page shows the twin beside it
            for train_mode in (True, False):  # the page's two batch-norm modes
                norms = table.lookup(c, train_mode, PROBE_IMAGES)
                assert norms, (c.label, config, train_mode)
                assert norms[0][0] == "conv1" and norms[-1][0] == "fc"
    assert len(table.norms) == 2 * len(sidebar_cards())


@pytest.mark.parametrize(
    "config",
    [
        ResNetConfig("cifar", 8, width=32, shortcut="B"),
        ResNetConfig("cifar", 32, residual=False, shortcut="B", width=4),  # a plain net, stored once for A and B
        ResNetConfig("cifar", 56, preact=True, width=8),
        ResNetConfig("cifar", 110, residual=False, preact=True, width=16),
    ],
)
def test_the_table_equals_a_fresh_computation(table, config):
    card = model_cards.untrained_card(config)
    model = model_cards.load_model(card)  # as the page loads it: in eval mode
    x, y = probe_batch(card, model, n=PROBE_IMAGES)  # the page's batch (cached_probe_batch)
    for train_mode in (True, False):
        fresh = gradient_norms(model, x, y, train_mode=train_mode)
        stored = table.lookup(card, train_mode, len(x))
        assert [n for n, _ in stored] == [n for n, _ in fresh]
        np.testing.assert_allclose([v for _, v in stored], [v for _, v in fresh], rtol=1e-4)


def test_only_the_sidebars_untrained_networks_are_read_from_the_table(table):
    card = model_cards.untrained_card(ResNetConfig("cifar", 20))
    assert table.lookup(card, True, PROBE_IMAGES)
    assert table.lookup(card, True, 32) is None  # another probe batch
    assert table.lookup(replace(card, seed=1), True, PROBE_IMAGES) is None  # other weights
    assert table.lookup(replace(card, source=model_cards.PRECOMPUTED), True, PROBE_IMAGES) is None  # trained
    assert table.lookup(replace(card, mean=(0.0, 0.0, 0.0)), True, PROBE_IMAGES) is None  # another normalisation
    assert table.lookup(model_cards.untrained_card(ResNetConfig("cifar", 20, width=64)), True, PROBE_IMAGES) is None
    assert table.lookup(model_cards.untrained_card(ResNetConfig("cifar", 164, block="bottleneck")), True, 16) is None


def test_save_and_load_give_back_the_same_floats(tmp_path, monkeypatch):
    from explorer.experiments import init_gradients

    cards = [
        model_cards.untrained_card(ResNetConfig("cifar", 8, residual=r, shortcut="B", width=4)) for r in (True, False)
    ]
    monkeypatch.setattr(init_gradients, "sidebar_cards", lambda seed=0: cards)
    t = load_init_gradients(save_init_gradients(tmp_path).parent)
    for card in cards:
        for train_mode, norms in card_gradient_norms(card).items():
            assert t.lookup(card, train_mode, PROBE_IMAGES) == norms  # exactly: the asset keeps every float32 digit
    plain_a = model_cards.untrained_card(ResNetConfig("cifar", 8, residual=False, shortcut="A", width=4))
    assert t.lookup(plain_a, True, PROBE_IMAGES) is None  # only what was asked for


def test_precompute_writes_the_table_alone_when_asked(tmp_path, monkeypatch, capsys):
    from explorer.cli import parser as cli
    from explorer.experiments import init_gradients

    card = model_cards.untrained_card(ResNetConfig("cifar", 8, width=4))
    monkeypatch.setattr(init_gradients, "sidebar_cards", lambda seed=0: [card])
    assert cli.main(["precompute", "--init-gradients-only", "--out", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["init_gradients.json"]  # not the sweeps, not the other assets
    assert load_init_gradients(tmp_path).lookup(card, False, PROBE_IMAGES) == card_gradient_norms(card)[False]
    assert "wrote" in capsys.readouterr().out
