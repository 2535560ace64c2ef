"""Model cards: the networks a page can look inside (untrained, trained (precomputed or in this session), pretrained).

A ``ModelCard`` says where a network comes from and how to feed it (classes, normalisation, input
size); ``load_model(card)`` gives the network; ``twin_card(card)`` its plain or residual twin where
one exists, so every view can show both side by side; ``run_cards(run)`` a card per network of a saved run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from explorer.data.info import DatasetInfo
from explorer.models.config import ResNetConfig
from explorer.training.runs import Run, load_checkpoint

if TYPE_CHECKING:  # torch loads with a network, not with the cards (the caches import them on every page)
    import torch
    from PIL import Image

    from explorer.models.resnet import ResNet

UNTRAINED, PRECOMPUTED, SESSION, PRETRAINED = "untrained", "precomputed", "session", "pretrained"


@dataclass(frozen=True)
class ModelCard:
    """Everything needed to rebuild a network and feed it an image. Frozen: a cache key."""

    label: str
    config: ResNetConfig
    source: str
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    image_size: int
    resize: str = "stretch"  # "stretch" (small nets: whole image to size) or "crop" (ImageNet eval)
    resize_size: int | None = None
    path: str | None = None  # checkpoint (state_dict) for precomputed runs
    run: str | None = None  # run directory the checkpoint belongs to
    seed: int = 0

    @property
    def trained(self) -> bool:
        return self.source != UNTRAINED


def card_for_dataset(config: ResNetConfig, info: DatasetInfo, source: str, **extra) -> ModelCard:
    """A card for a network trained (or to be trained) on ``info``'s data."""
    config = replace(config, num_classes=info.num_classes, in_channels=info.in_channels)
    return ModelCard(
        label=config.name,
        config=config,
        source=source,
        classes=tuple(info.classes),
        mean=tuple(info.mean),
        std=tuple(info.std),
        image_size=info.image_size,
        **extra,
    )


def untrained_card(config: ResNetConfig, seed: int = 0) -> ModelCard:
    """A freshly initialised network: CIFAR-family nets on shapes-sized inputs, ImageNet nets at 224."""
    from explorer.data.datasets import shapes_info
    from explorer.data.shapes import SHAPE_CLASSES

    if config.family == "imagenet" and config.stem == "imagenet":
        from explorer.models.pretrained import imagenet_classes, imagenet_transform

        t = imagenet_transform(config.depth)
        classes = tuple(imagenet_classes(config.depth)) if config.num_classes == 1000 else ()
        classes = classes or tuple(str(i) for i in range(config.num_classes))
        return ModelCard(
            f"{config.name}, untrained",
            config,
            UNTRAINED,
            classes,
            t.mean,
            t.std,
            t.size,
            "crop",
            t.resize_size,
            seed=seed,
        )
    card = card_for_dataset(config, shapes_info(32), UNTRAINED, seed=seed)
    if config.num_classes != len(SHAPE_CLASSES):
        card = replace(card, config=config, classes=tuple(str(i) for i in range(config.num_classes)))
    return replace(card, label=f"{config.name}, untrained")


def pretrained_card(depth: int) -> ModelCard:
    """torchvision's ImageNet weights for ResNet-``depth`` (loading may need a download)."""
    from explorer.models.pretrained import imagenet_classes, imagenet_transform

    t = imagenet_transform(depth)
    config = ResNetConfig("imagenet", depth)
    return ModelCard(
        f"ResNet-{depth}, ImageNet weights",
        config,
        PRETRAINED,
        tuple(imagenet_classes(depth)),
        t.mean,
        t.std,
        t.size,
        "crop",
        t.resize_size,
    )


def load_model(card: ModelCard, download: bool = False, like: ResNet | None = None) -> ResNet:
    """The network a card names, in eval mode. Precomputed checkpoints load with weights_only=True.

    ``like``: for an untrained card, an unchanged untrained network of the same seed (its twin) whose layers of
    the same name and shape are copied rather than drawn again (``models.init_weights``): the same weights."""
    from explorer.models.resnet import build_resnet

    if card.source == UNTRAINED:
        return build_resnet(card.config, seed=card.seed, like=like).eval()
    if card.source == PRETRAINED:
        from explorer.models.pretrained import load_pretrained

        return load_pretrained(card.config.depth, download=download)
    if card.path is None:
        raise ValueError(f"{card.label} has no checkpoint to load")
    model = build_resnet(card.config)
    model.load_state_dict(load_checkpoint(card.path), strict=True)
    return model.eval()


def twin_card(card: ModelCard, cards: list[ModelCard] | tuple[ModelCard, ...] = ()) -> ModelCard | None:
    """The same network with the residual switch flipped: from ``cards`` (same run) or, untrained, built."""
    want = card.config.twin()
    for other in cards:
        if other.config == want and other.run == card.run and other.source == card.source:
            return other
    if card.source == UNTRAINED:
        return replace(card, config=want, label=f"{want.name}, untrained")
    return None


def run_cards(run: Run) -> list[ModelCard]:
    """A card per network of a saved run, labelled with the run's name."""
    from explorer.data.datasets import shapes_info

    info = run.dataset or shapes_info(run.train.image_size or 32)
    cards = []
    for name, config in run.model_configs.items():
        checkpoint = str(run.path / run.meta["models"][name]["checkpoint"])
        card = card_for_dataset(config, info, PRECOMPUTED, path=checkpoint, run=str(run.path))
        cards.append(replace(card, label=f"{config.name}, trained ({run.name}, {run.history.step} steps)"))
    return cards


def prepare_image(card: ModelCard, img: Image.Image) -> tuple[torch.Tensor, object]:
    """(x (1, C, size, size), display (size, size, 3) uint8) for this card's network."""
    from explorer.data.images import preprocess

    return preprocess(
        img,
        card.image_size,
        card.mean,
        card.std,
        resize=card.resize,
        resize_size=card.resize_size,
        channels=card.config.in_channels,
    )
