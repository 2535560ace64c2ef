"""Shared fixtures: tiny, seeded, offline."""

import pytest
import torch

from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet

torch.set_num_threads(2)


@pytest.fixture
def tiny_config() -> ResNetConfig:
    return ResNetConfig(family="cifar", depth=8, width=8)


@pytest.fixture
def tiny_model(tiny_config):
    return build_resnet(tiny_config, seed=0)


@pytest.fixture
def cifar_batch() -> torch.Tensor:
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="session")
def nginx() -> str:
    """Debian's nginx, for the class set-up's tests: skipped without it, but failed under CI (.ci/run installs it)."""
    import os

    from explorer.deploy.launcher import NGINX

    if not os.access(NGINX, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"{NGINX} is missing: .ci/run installs Debian's nginx")
        pytest.skip(f"{NGINX} is missing (apt-get install nginx)")
    return NGINX
