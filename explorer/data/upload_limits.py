"""How large an upload may be: one number per kind, read by everything that states or enforces it.

Each uploader states its kind's limit in its label, the page checks the uploaded size against it and says so
in the user's language, and the loaders refuse larger files (``images.MAX_BYTES``, ``pretrained.MAX_WEIGHT_BYTES``).
Streamlit enforces one limit for every uploader (``server.maxUploadSize`` in ``.streamlit/config.toml``, in MiB),
and a file over it never reaches the page: it is the largest kind's, so each kind's own check speaks first.
nginx in ``make class`` lets the same through (``deploy/launcher.py`` reads the config).
"""

from __future__ import annotations

MB = 1_000_000  # the limits are stated in decimal megabytes; Streamlit's MiB is a little larger, never smaller

IMAGE_MB = 20  # a photo is a few MB; a 40-megapixel PNG is about 20
WEIGHTS_MB = 300  # torchvision's ImageNet ResNets: ResNet-18 47 MB, ResNet-50 98 MB, ResNet-152 241 MB
ZIP_MB = 200  # a training set of images, e.g. a few thousand photos
LIMITS_MB = {"image": IMAGE_MB, "weights": WEIGHTS_MB, "zip": ZIP_MB}
SERVER_MB = max(LIMITS_MB.values())  # .streamlit/config.toml's server.maxUploadSize (a test checks they agree)


def limit_bytes(kind: str) -> int:
    """The most bytes an upload of this kind ("image", "weights", "zip") may have."""
    return LIMITS_MB[kind] * MB


def over_limit(kind: str, size: int) -> bool:
    return size > limit_bytes(kind)
