"""Gradient norms at initialisation of every untrained network the sidebar offers, computed in advance.

The Gradients page shows ``gradient_norms`` of the sidebar's untrained network (and its twin) for a fixed probe
batch, with batch-norm's batch or running statistics. At initialisation that is a function of the network's
config, the seed and the batch alone, so ``python -m explorer precompute`` computes it once for every CIFAR
network the sidebar can name, with exactly the page's card, model, batch and mode, and the page reads it from
assets/experiments instead of a forward and a backward pass per student. Trained, ImageNet and uploaded networks
are computed live.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from itertools import product
from pathlib import Path

import numpy as np

from explorer.interpret.gradients import gradient_norms
from explorer.interpret.model_cards import UNTRAINED, ModelCard, load_model, untrained_card
from explorer.interpret.probes import probe_batch
from explorer.models.config import CIFAR_DEPTHS, CIFAR_WIDTHS, SHORTCUTS, ResNetConfig
from explorer.progress import ProgressFn

INIT_GRADIENTS_FILE = "init_gradients.json"
# 16 images: half the forward and backward work of 32 per network, the same rise or fall per layer on the log
# scale (the first/last ratios of Plain-56 and Plain-110 move by about a third at most)
PROBE_IMAGES = 16
MODES = {True: "batch", False: "running"}  # train_mode -> the asset's name: BN's batch or running statistics


def sidebar_cards(seed: int = 0) -> list[ModelCard]:
    """The card of every untrained CIFAR network the sidebar can name: each offered depth and width, residual
    on and off, shortcut A and B, the 2015 and the 2016 block."""
    choices = product(CIFAR_DEPTHS, (True, False), SHORTCUTS, CIFAR_WIDTHS, (False, True))
    return [
        untrained_card(ResNetConfig("cifar", d, residual=r, shortcut=s, width=w, preact=p), seed=seed)
        for d, r, s, w, p in choices
    ]


def card_gradient_norms(card: ModelCard) -> dict[bool, list[tuple[str, float]]]:
    """``gradient_norms`` of an untrained card's network for both batch-norm modes, as the Gradients page computes
    them: the card's model in eval mode and its probe batch of ``PROBE_IMAGES``."""
    model = load_model(card)
    x, y = probe_batch(card, model, n=PROBE_IMAGES)
    return {train_mode: gradient_norms(model, x, y, train_mode=train_mode) for train_mode in MODES}


@dataclass
class InitGradients:
    """The table: for each (config, train_mode), the layers in forward order and their gradient norms."""

    seed: int
    images: int
    norms: dict[tuple[ResNetConfig, bool], list[tuple[str, float]]]

    def lookup(self, card: ModelCard, train_mode: bool, images: int) -> list[tuple[str, float]] | None:
        """The norms the page would compute for ``card`` on ``images`` probe images, or None if the table does
        not hold them (a trained or ImageNet network, another seed or batch size)."""
        if card.source != UNTRAINED or card.seed != self.seed or images != self.images:
            return None
        if card.config.family != "cifar" or card != untrained_card(card.config, seed=card.seed):
            return None
        return self.norms.get((card.config, train_mode))


def _nine_digits(value: float) -> float:
    """A float32 norm cut to the 9 significant digits that bring back the same float32 (``load_init_gradients``)."""
    return float(f"{value:.9g}")


def save_init_gradients(out: str | Path, seed: int = 0, progress: ProgressFn | None = None) -> Path:
    """``card_gradient_norms`` of every ``sidebar_cards`` network as JSON under ``out``.

    A plain network is the same with shortcut A or B (a plain block has no shortcut), so it is computed once.
    Each layer list is written once and referred to by its index.
    """
    cards = sidebar_cards(seed)
    computed: dict[ResNetConfig, dict[bool, list]] = {}
    layer_lists: list[list[str]] = []
    networks = []
    for i, card in enumerate(cards):
        same = card.config if card.config.residual else ResNetConfig(**{**asdict(card.config), "shortcut": "A"})
        if same not in computed:
            computed[same] = card_gradient_norms(untrained_card(same, seed=seed))
        entry = {"config": asdict(card.config)}
        for train_mode, norms in computed[same].items():
            layers = [n for n, _ in norms]
            if layers not in layer_lists:
                layer_lists.append(layers)
            entry[MODES[train_mode]] = {
                "layers": layer_lists.index(layers),
                "values": [_nine_digits(v) for _, v in norms],
            }
        networks.append(entry)
        if progress:
            progress(i + 1, len(cards))
    path = Path(out) / INIT_GRADIENTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "seed": seed,
        "images": PROBE_IMAGES,
        "layer_lists": layer_lists,
        "networks": networks,
    }
    path.write_text(json.dumps(data, separators=(",", ":")))
    return path


def load_init_gradients(folder: str | Path) -> InitGradients | None:
    """The precomputed table, or None if it is not there."""
    path = Path(folder) / INIT_GRADIENTS_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    lists = data["layer_lists"]
    norms = {}
    for entry in data["networks"]:
        config = ResNetConfig(**entry["config"])
        for train_mode, name in MODES.items():
            part = entry[name]
            values = np.asarray(part["values"], dtype=np.float32).tolist()  # the very floats gradient_norms returned
            norms[config, train_mode] = list(zip(lists[part["layers"]], values, strict=True))
    return InitGradients(data["seed"], data["images"], norms)
