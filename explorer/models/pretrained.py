"""Pretrained ImageNet ResNets through torchvision's weights API, loaded into the explorer's own model.

The explorer's ImageNet-family ``ResNet`` keeps torchvision's module names, so torchvision's
state_dicts load strictly. Class names and preprocessing come from the weights' metadata (no network).
Weights download only when asked; otherwise they must already be in torch's hub cache, or the user
gives a local ``.pth`` in torchvision's format (loaded with ``weights_only=True`` and a strict key check).
Plain (non-residual) ImageNet networks were never released with trained weights, so there are none.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

from explorer.data.upload_limits import limit_bytes
from explorer.i18n import N_, _
from explorer.models.config import IMAGENET_BLOCKS, ResNetConfig
from explorer.models.resnet import ResNet, build_resnet

log = logging.getLogger(__name__)

PRETRAINED_DEPTHS = tuple(IMAGENET_BLOCKS)  # torchvision ships ImageNet weights for each
MAX_WEIGHT_BYTES = limit_bytes("weights")  # ResNet-152 is 241 MB
NO_PLAIN_WEIGHTS = N_(  # shown through _()
    "Plain (non-residual) ImageNet networks have no published pretrained weights: torchvision ships only "
    "residual ResNets. Train a plain net yourself on the built-in data, or compare at initialisation."
)


class WeightsUnavailable(RuntimeError):
    """The weights asked for cannot be had here (not cached and no download, network down, plain net)."""


class WeightsError(ValueError):
    """A weights file that is not a state_dict for the network asked for."""


def _weights(depth: int) -> WeightsEnum:
    import torchvision.models as tvm  # here, not at the top: importing torchvision takes seconds

    if depth not in PRETRAINED_DEPTHS:
        raise ValueError(f"pretrained ImageNet ResNets come in depths {PRETRAINED_DEPTHS}, got {depth}")
    return getattr(tvm, f"ResNet{depth}_Weights").DEFAULT


@dataclass(frozen=True)
class ImageNetTransform:
    """What ``explorer.data.images.preprocess`` needs for these weights: ``preprocess(img, **asdict(t))``."""

    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    resize: str
    resize_size: int


def imagenet_classes(depth: int = 50) -> list[str]:
    """The 1000 ImageNet class names, from the weights' metadata (no network)."""
    return list(_weights(depth).meta["categories"])


def imagenet_transform(depth: int = 50) -> ImageNetTransform:
    """Evaluation preprocessing of torchvision's default weights (e.g. resize 232 then crop 224 for ResNet-50)."""
    t = _weights(depth).transforms()
    return ImageNetTransform(
        size=int(t.crop_size[0]),
        mean=tuple(t.mean),
        std=tuple(t.std),
        resize="crop",
        resize_size=int(t.resize_size[0]),
    )


def weights_info(depth: int, cache_dir: str | Path | None = None) -> dict:
    """Name, URL, cache path, whether cached, file size and ImageNet accuracy of the default weights."""
    w = _weights(depth)
    path = _cache_path(w, cache_dir)
    metrics = w.meta.get("_metrics", {}).get("ImageNet-1K", {})
    return {
        "name": f"ResNet{depth}_Weights.{w.name}",
        "url": w.url,
        "path": path,
        "cached": path.is_file(),
        "file_size_mb": w.meta.get("_file_size"),
        "acc1": metrics.get("acc@1"),
        "acc5": metrics.get("acc@5"),
        "num_params": w.meta.get("num_params"),
    }


def _cache_path(w: WeightsEnum, cache_dir: str | Path | None) -> Path:
    """Where torch.hub.load_state_dict_from_url keeps (and first looks for) this file."""
    model_dir = Path(cache_dir) if cache_dir else Path(torch.hub.get_dir()) / "checkpoints"
    return model_dir / os.path.basename(w.url)


def load_pretrained(
    depth: int = 50, download: bool = False, cache_dir: str | Path | None = None, residual: bool = True
) -> ResNet:
    """The explorer's ResNet-``depth`` (ImageNet family) with torchvision's default ImageNet weights.

    Args:
        depth: 18, 34, 50, 101 or 152.
        download: fetch the weights if they are not cached; without it nothing touches the network.
        cache_dir: torch hub's checkpoint folder by default (``$TORCH_HOME/hub/checkpoints``).
        residual: False asks for a plain net, which has no pretrained weights (raises).
    Returns:
        the model in eval mode.
    Raises:
        WeightsUnavailable: not cached and ``download`` is off, the download failed, or a plain net.
    """
    if not residual:
        raise WeightsUnavailable(_(NO_PLAIN_WEIGHTS))
    w = _weights(depth)
    path = _cache_path(w, cache_dir)
    if not path.is_file() and not download:
        text = _(
            "ResNet-{depth} ImageNet weights are not on this machine ({file}) and downloading is off. "
            "Allow the download (about {mb:.0f} MB from download.pytorch.org), "
            "or upload a local .pth state_dict in torchvision's format."
        )
        raise WeightsUnavailable(text.format(depth=depth, file=path.name, mb=w.meta.get("_file_size", 0)))
    try:
        state = w.get_state_dict(model_dir=str(path.parent), progress=False, weights_only=True, map_location="cpu")
    except (OSError, RuntimeError) as e:  # URLError is an OSError; a half download fails to unpickle
        text = _(
            "could not get ResNet-{depth} ImageNet weights ({error}). This machine may be offline: "
            "upload a local .pth state_dict in torchvision's format instead."
        )
        raise WeightsUnavailable(text.format(depth=depth, error=e)) from None
    model = _load_state(state, depth)
    log.info("loaded %s from %s", w, path)
    return model


def _unwrap(obj) -> Mapping[str, torch.Tensor]:
    """A state_dict from a bare dict, a {'state_dict': ...}/{'model': ...} checkpoint or a DataParallel save."""
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if (
        not isinstance(obj, Mapping)
        or not obj
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    ):
        text = _(
            "the file holds a {type}, not a state_dict (a dict of parameter names to tensors); "
            "save one with torch.save(model.state_dict(), 'weights.pth')"
        )
        raise WeightsError(text.format(type=type(obj).__name__))
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def guess_depth(keys) -> int | None:
    """Which torchvision ResNet depth a set of state_dict keys fits (blocks per stage, bottleneck or not)."""
    counts = [0, 0, 0, 0]
    bottleneck = False
    for k in keys:
        m = re.match(r"layer([1-4])\.(\d+)\.", k)
        if m:
            counts[int(m[1]) - 1] = max(counts[int(m[1]) - 1], int(m[2]) + 1)
            bottleneck = bottleneck or ".conv3." in k
    for depth, (kind, blocks) in IMAGENET_BLOCKS.items():
        if tuple(counts) == blocks and (kind == "bottleneck") == bottleneck:
            return depth
    return None


def _short(keys: list[str], n: int = 6) -> str:
    return ", ".join(keys[:n]) + (_(" and {n} more").format(n=len(keys) - n) if len(keys) > n else "")


def _load_state(state: Mapping[str, torch.Tensor], depth: int) -> ResNet:
    """Build the explorer's ImageNet ResNet-depth and load ``state`` strictly, with a clear error on mismatch."""
    fc = state.get("fc.weight")
    num_classes = int(fc.shape[0]) if isinstance(fc, torch.Tensor) and fc.ndim == 2 else 1000
    model = build_resnet(ResNetConfig("imagenet", depth, num_classes=num_classes))
    expected = model.state_dict()
    guess = guess_depth(state.keys())
    # BN's step counters are not weights, and torchvision's older files predate them
    state = {**{k: v for k, v in expected.items() if k.endswith("num_batches_tracked")}, **state}
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        hint = (
            _(" These keys fit a ResNet-{guess}: choose depth {guess}.").format(guess=guess)
            if guess and guess != depth
            else _(" They do not fit any torchvision ResNet.")
            if not guess
            else ""
        )
        raise WeightsError(
            _("the weights do not fit ResNet-{depth}: ").format(depth=depth)
            + (_("{n} missing keys ({keys}); ").format(n=len(missing), keys=_short(missing)) if missing else "")
            + (
                _("{n} unexpected keys ({keys}).").format(n=len(unexpected), keys=_short(unexpected))
                if unexpected
                else ""
            )
            + hint
        )
    wrong = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items() if state[k].shape != v.shape
    ]
    if wrong:
        text = _("the weights have the right names but wrong shapes for ResNet-{depth}: {keys}")
        raise WeightsError(text.format(depth=depth, keys=_short(wrong, 4)))
    model.load_state_dict(state, strict=True)
    return model.eval()


def _too_big(size: int, max_bytes: int) -> str:
    return _("the file is {mb:.0f} MB, over the {limit:.0f} MB limit").format(mb=size / 1e6, limit=max_bytes / 1e6)


def load_local_weights(
    source: bytes | str | Path, depth: int | None = None, max_bytes: int = MAX_WEIGHT_BYTES
) -> ResNet:
    """The explorer's ImageNet ResNet with a user's ``.pth`` state_dict in torchvision's format.

    Args:
        source: the file's bytes or path.
        depth: 18/34/50/101/152; None guesses it from the keys.
        max_bytes: refuse larger files.
    Returns:
        the model in eval mode (``num_classes`` taken from ``fc.weight``).
    Raises:
        WeightsError: too big, not a state_dict, or keys/shapes that do not fit (names them).
    """
    if isinstance(source, (str, Path)):
        size = Path(source).stat().st_size
        if size > max_bytes:
            raise WeightsError(_too_big(size, max_bytes))
        source = Path(source).read_bytes()
    if len(source) > max_bytes:
        raise WeightsError(_too_big(len(source), max_bytes))
    state = load_state_dict_bytes(source)
    if depth is None:
        depth = guess_depth(state.keys())
        if depth is None:
            text = _(
                "these keys do not fit any torchvision ResNet ({keys}); expected e.g. conv1.weight, "
                "layer1.0.conv1.weight, fc.weight. For a network trained in this app, upload its run's "
                "checkpoints .zip from the Train page: it carries each network's configuration."
            )
            raise WeightsError(text.format(keys=_short(list(state))))
    if depth not in PRETRAINED_DEPTHS:
        raise ValueError(f"pretrained ImageNet ResNets come in depths {PRETRAINED_DEPTHS}, got {depth}")
    return _load_state(state, depth)


def load_state_dict_bytes(source: bytes) -> Mapping[str, torch.Tensor]:
    """A state_dict from a file's bytes, loaded with ``weights_only=True``; WeightsError, in plain words, if not."""
    try:
        obj = torch.load(io.BytesIO(source), map_location="cpu", weights_only=True)
    except Exception as e:  # torch's unpickler raises what the bytes lead it to (IndexError on text, ...)
        log.info("torch.load(weights_only=True) refused the file: %s", e)
        raise WeightsError(
            _(
                "the file is not a PyTorch state_dict that loads safely: either it is not a PyTorch file at all, "
                "or it pickles Python objects besides tensors, which we refuse (weights_only=True). "
                "Save plain weights with torch.save(model.state_dict(), 'weights.pth')."
            )
        ) from None
    return _unwrap(obj)
