"""What the job engine's workers run for Explain's gallery: every picture explained by one method, in batches.

``gallery_job`` returns an ``engine.records.Job`` (as ``explorer.tasks.training`` describes): identical requests
(the same network weights, pictures, method, layer and target) share one job. The worker explains the pictures
batch by batch (``explorer.interpret.batch``); after each batch it adds one point per picture, so the page fills
its gallery in as results come: [index, top-5 as [class, probability] pairs, the class explained, the map shrunk
to ``POINT_SIDE`` pixels a side as uint8 bytes]. The full maps come back as the job's result. Stop ends the job
between batches with the pictures done so far.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from explorer.data.gather import Picture
from explorer.engine.records import Job, make_job
from explorer.i18n import N_, message
from explorer.interpret.batch import BATCH, Explained, explain_pictures
from explorer.interpret.model_cards import ModelCard
from explorer.models.resnet import build_resnet
from explorer.tasks.experiments import state_digest

POINT_SIDE = 48  # a gallery thumbnail's map: about 2 KB a picture on the scheduler
EXPLAINING = N_("explaining {n} images")


def _picture_digest(pictures: list[Picture]) -> str:
    h = hashlib.sha256()
    for p in pictures:
        h.update(p.name.encode())
        h.update(np.asarray(p.image).tobytes())
    return h.hexdigest()[:24]


def gallery_job(
    card: ModelCard,
    model: torch.nn.Module,
    pictures: list[Picture],
    method: str,
    layer: str | None,
    target: int | None,
) -> Job:
    """A job explaining ``pictures`` with ``model`` (its weights travel as a state_dict)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    spec = {
        "title": "gallery",
        "card": card,
        "state_dict": state,
        "pictures": [(p.name, np.asarray(p.image), p.mask) for p in pictures],
        "method": method,
        "layer": layer,
        "target": target,
    }
    what = {
        "config": card.config,
        "weights": state_digest(state),
        "pictures": _picture_digest(pictures),
        "view": (card.resize, card.image_size, card.mean, card.std, method, layer, target),
    }
    return make_job("gallery", gallery_task, spec, what)


def small_map(cam: np.ndarray, side: int = POINT_SIDE) -> bytes:
    """An (H, W) map in [0, 1] as ``side`` x ``side`` uint8 bytes (area-averaged)."""
    t = torch.from_numpy(np.ascontiguousarray(cam, dtype=np.float32))[None, None]
    small = F.adaptive_avg_pool2d(t, side)[0, 0].clamp(0, 1)
    return (small * 255).round().to(torch.uint8).numpy().tobytes()


def map_from_point(data: bytes, side: int = POINT_SIDE) -> np.ndarray:
    """``small_map``'s bytes back as a (side, side) map in [0, 1]."""
    return np.frombuffer(data, dtype=np.uint8).reshape(side, side).astype(np.float32) / 255.0


def gallery_task(spec: dict, ctx) -> list[Explained]:
    """Every picture explained, batch by batch, a point per picture after each batch; stops between batches."""
    card = spec["card"]
    model = build_resnet(card.config)
    model.load_state_dict(spec["state_dict"])
    model.eval()
    pictures = [Picture(name, Image.fromarray(a), mask) for name, a, mask in spec["pictures"]]
    n = len(pictures)
    out: list[Explained] = []
    for start in range(0, n, BATCH):
        if ctx.stop.is_set():
            break
        done = explain_pictures(
            card, model, pictures[start : start + BATCH], spec["method"], spec["layer"], spec["target"]
        )
        ctx.add_points([[start + i, [list(t) for t in r.top], r.target, small_map(r.map)] for i, r in enumerate(done)])
        out.extend(done)
        ctx.report(force=True, phase=message(EXPLAINING, n=n), step=len(out), total=n)
    return out
