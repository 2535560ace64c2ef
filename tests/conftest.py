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


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory):
    """One scheduler and worker for the whole run, started with Dask's own commands (``tests/engine/cluster.py``).
    Tests share it and keep apart by distinct job ids."""
    from explorer.engine import client as engine_client
    from tests.engine.cluster import ROOT, Cluster

    home = tmp_path_factory.mktemp("dask-cluster")
    assert ROOT not in home.parents
    c = Cluster(home)
    try:
        c.add_worker()
        yield c
    finally:
        engine_client.close()
        c.close()


@pytest.fixture(scope="module")
def cluster(dask_cluster):
    """The session's cluster as this process's engine (``$EXPLORER_SCHEDULER``) for one test module; a fresh client
    for each module, and a worker again if a test killed them all."""
    from explorer.engine import client as engine_client

    engine_client.close()
    if not any(w.poll() is None for w in dask_cluster.workers):
        dask_cluster.add_worker()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(engine_client.SCHEDULER_ENV, dask_cluster.address)
        dask_cluster.wait_for_workers(1)
        yield dask_cluster
        engine_client.close()
