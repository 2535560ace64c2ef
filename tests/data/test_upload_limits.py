"""One number per kind of upload: what the uploader states, what the page checks, what the server and nginx let in."""

import tomllib

import pytest

from explorer.data import images
from explorer.data.upload_limits import LIMITS_MB, MB, SERVER_MB, WEIGHTS_MB, limit_bytes, over_limit
from explorer.deploy.launcher import ROOT, upload_limit_mb
from explorer.models import pretrained


def test_the_server_lets_through_the_largest_kind():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == SERVER_MB == max(LIMITS_MB.values())
    # Streamlit counts MiB: each kind's limit in MB fits under the cap, so the page's own check speaks first
    assert all(limit_bytes(kind) <= SERVER_MB * 2**20 for kind in LIMITS_MB)
    assert upload_limit_mb(ROOT) == SERVER_MB + 1  # nginx: the same, plus the form's framing


def test_the_loaders_refuse_at_their_kinds_limit():
    assert images.MAX_BYTES == limit_bytes("image") == 20 * MB
    assert limit_bytes("weights") == pretrained.MAX_WEIGHT_BYTES
    assert not over_limit("image", 20 * MB) and over_limit("image", 20 * MB + 1)


@pytest.mark.parametrize("depth", pretrained.PRETRAINED_DEPTHS)
def test_every_torchvision_resnet_fits_the_weights_limit(depth):
    mb = pretrained.weights_info(depth)["file_size_mb"]  # torchvision's own metadata, no download
    assert mb is not None and mb * 2**20 < WEIGHTS_MB * MB  # _file_size is in MiB
