"""A network file a user uploads: torchvision's ImageNet ``.pth``, or the checkpoints ``.zip`` this app saves.

The Train page's download is a zip of one run: ``<run>/config.json`` (each network's ``ResNetConfig`` and the data
it learnt) and ``<run>/<network>.pt`` state_dicts. Loading it back gives every network of the run, so a plain net
and its residual twin come back as a pair. Every tensor file loads with ``weights_only=True`` and a strict key
check (``pretrained``); a zip entry is read only when its declared size is under the upload limit.
"""

from __future__ import annotations

import io
import json
import posixpath
import zipfile
from dataclasses import replace

from explorer.data.info import DatasetInfo
from explorer.data.upload_limits import limit_bytes
from explorer.i18n import _
from explorer.interpret import model_cards
from explorer.models.config import ResNetConfig
from explorer.models.pretrained import WeightsError, load_local_weights, load_state_dict_bytes

NOT_A_RUN = (
    "the zip holds no config.json: it is not the checkpoints download of a run from the Train page "
    "(a .zip with <run>/config.json and one .pt per network)"
)


def load_network_file(data: bytes, name: str) -> list[tuple[model_cards.ModelCard, object]]:
    """[(card, model)] for an uploaded file: a run's checkpoints zip (every network in it) or a torchvision .pth.

    Cards are labelled "<network> from <file>" and have source ``SESSION``. Raises WeightsError, in plain words.
    """
    if _is_run_zip(data):
        return _from_run_zip(data, name)
    model = load_local_weights(data)
    base = model_cards.pretrained_card(model.config.depth)
    card = replace(base, label=f"ResNet-{model.config.depth} from {name}", source=model_cards.SESSION)
    if model.config.num_classes != len(base.classes):  # fine-tuned on other classes: numbered
        card = replace(card, classes=tuple(str(i) for i in range(model.config.num_classes)))
    return [(card, model)]


def _is_run_zip(data: bytes) -> bool:
    """A zip that is not itself a torch.save file (torch saves a zip with a data.pkl inside)."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return not any(posixpath.basename(n) == "data.pkl" for n in zf.namelist())
    except zipfile.BadZipFile:
        return False


def _read(zf: zipfile.ZipFile, entry: str) -> bytes:
    try:
        info = zf.getinfo(entry)
    except KeyError:
        raise WeightsError(_("the zip has no {entry}, which its config.json names").format(entry=entry)) from None
    if info.file_size > limit_bytes("weights"):
        raise WeightsError(_("{entry} in the zip is too large to be a checkpoint").format(entry=entry))
    return zf.read(info)


def _meta(zf: zipfile.ZipFile) -> tuple[str, dict]:
    """The run folder inside the zip and its config.json."""
    configs = [n for n in zf.namelist() if posixpath.basename(n) == "config.json" and n.count("/") <= 1]
    if len(configs) != 1:
        raise WeightsError(_(NOT_A_RUN))
    folder = posixpath.dirname(configs[0])
    try:
        meta = json.loads(_read(zf, configs[0]))
        meta["models"].items()
    except (ValueError, KeyError, TypeError, AttributeError):
        raise WeightsError(_("the zip's config.json is not a run's configuration")) from None
    return folder, meta


def _dataset(meta: dict) -> DatasetInfo:
    if meta.get("dataset"):
        return DatasetInfo.from_dict(meta["dataset"])
    from explorer.data.datasets import shapes_info

    return shapes_info(int((meta.get("train") or {}).get("image_size") or 32))


def _from_run_zip(data: bytes, name: str) -> list[tuple[model_cards.ModelCard, object]]:
    from explorer.models.resnet import build_resnet

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise WeightsError(_("the zip is damaged")) from None
    with zf:
        folder, meta = _meta(zf)
        try:
            info = _dataset(meta)
            configs = {
                net: ResNetConfig(**{f: v for f, v in c.items() if f not in ("checkpoint", "initial")})
                for net, c in meta["models"].items()
            }
        except (ValueError, KeyError, TypeError):
            raise WeightsError(_("the zip's config.json is not a run's configuration")) from None
        out = []
        for net, config in configs.items():
            entry = posixpath.join(folder, posixpath.basename(meta["models"][net]["checkpoint"]))
            state = load_state_dict_bytes(_read(zf, entry))
            model = build_resnet(config)
            try:
                model.load_state_dict(state, strict=True)
            except RuntimeError:
                text = _("{entry} does not fit the network its config.json describes ({net})")
                raise WeightsError(text.format(entry=entry, net=config.name)) from None
            card = model_cards.card_for_dataset(config, info, model_cards.SESSION, run=name)
            out.append((replace(card, label=f"{config.name} from {name}"), model.eval()))
    return out
