"""The only place that uses st.cache_*: shared, read-only models and results keyed by frozen configs.

Cached models are shared by every session: callers never train, re-randomise or switch them; views
that need a switch work on a copy.
"""

from pathlib import Path

import streamlit as st

from explorer import model_cards, runs
from explorer.datasets import Shapes, make_shapes
from explorer.i18n import N_
from explorer.models import ResNet, ResNetConfig
from explorer.summary import Summary, summarize_config

ASSETS = Path(__file__).resolve().parents[2] / "assets"
ASSET_RUNS = ASSETS / "runs"
ASSET_EXPERIMENTS = ASSETS / "experiments"


@st.cache_data(show_spinner="Counting parameters and multiply-accumulates…", max_entries=64)
def cached_summary(config: ResNetConfig, input_size: int | None = None) -> Summary:
    return summarize_config(config, input_size)


@st.cache_resource(max_entries=32)
def cached_structure(config: ResNetConfig) -> ResNet:
    """The network's modules on the meta device: its shape without weights, for diagrams."""
    import torch

    with torch.device("meta"):
        return ResNet(config)


@st.cache_resource(max_entries=8, show_spinner="Loading the network…")
def cached_card_model(card: model_cards.ModelCard, download: bool = False, device: str = "cpu") -> ResNet:
    """A shared, read-only network for a card (untrained, precomputed or pretrained), on ``device``."""
    return model_cards.load_model(card, download=download).to(device)


@st.cache_data(show_spinner=False)
def precomputed_cards() -> list[model_cards.ModelCard]:
    """Networks trained by `make assets` and shipped in assets/runs."""
    cards: list[model_cards.ModelCard] = []
    for run in runs.find_runs(ASSET_RUNS):
        cards += runs.run_cards(run)
    return sorted(cards, key=lambda c: (c.run or "", c.config.depth, not c.config.residual))


@st.cache_data(show_spinner=False)
def shapes_samples(size: int = 32, n: int = 60) -> Shapes:
    """Held-out shapes for the image pickers (a seed no training run uses)."""
    return make_shapes(n, size=size, seed=12345)


@st.cache_resource(show_spinner=False)
def precomputed_run(name: str):
    """The run ``assets/runs/<name>`` (an ``explorer.runs.Run``, shared read-only), or None if absent."""
    from explorer.runs import load_run

    path = ASSET_RUNS / name
    return load_run(path) if (path / "config.json").is_file() else None


@st.cache_data(show_spinner=False)
def precomputed_sweeps() -> tuple[list | None, list | None]:
    """(gradient-norm depth sweep, shattered-gradients sweep) from assets/experiments, None where missing."""
    from explorer.experiments.precompute import load_shattered, load_sweep

    return load_sweep(ASSET_EXPERIMENTS), load_shattered(ASSET_EXPERIMENTS)


@st.cache_data(show_spinner=False)
def precomputed_lesions() -> list | None:
    """Lesion studies of the degradation run's networks from assets/experiments, or None."""
    from explorer.experiments.precompute import load_lesions

    return load_lesions(ASSET_EXPERIMENTS)


@st.cache_data(show_spinner=False)
def zero_gamma_ratios(depth: int = 20) -> dict[str, list[tuple[str, float]]]:
    """||F(x)|| / ||x|| per block of a freshly initialised ResNet, with and without zero-gamma (Goyal et al. 2017).

    Batch norm statistics come from one shapes batch (``gradients.calibrate_bn``), as in training.
    """
    from explorer.gradients import calibrate_bn, shapes_batch
    from explorer.models import build_resnet
    from explorer.probes import branch_ratios

    x, _ = shapes_batch(32)
    out = {}
    for label, zero in ((N_("standard initialisation (γ = 1)"), False), (N_("zero-γ initialisation (γ = 0)"), True)):
        model = calibrate_bn(build_resnet(ResNetConfig("cifar", depth, zero_init_residual=zero)), x)
        out[label] = branch_ratios(model, x)
    return out


@st.cache_data(show_spinner="Measuring layer responses…")
def precomputed_responses(name: str) -> list[tuple[str, bool, int, list[float]]]:
    """He et al. Fig. 7 for the networks of ``assets/runs/<name>``: (network, residual, depth, stds), on held-out shapes."""
    from explorer.experiments.precompute import lesion_data
    from explorer.probes import layer_responses

    run = precomputed_run(name)
    if run is None:
        return []
    x, _ = lesion_data(run.train.image_size or 32, n=256)
    out = []
    for label, model in run.load_models().items():
        _, stds = layer_responses(model, x)
        out.append((label, model.config.residual, model.config.depth, stds.tolist()))
    return out


@st.cache_data(show_spinner=False)
def precomputed_landscapes() -> tuple[list, list]:
    """Loss landscapes and init-to-trained lines of the degradation run's networks (assets/experiments/landscape)."""
    from explorer.experiments.landscape import load_landscapes

    return load_landscapes(ASSET_EXPERIMENTS / "landscape")
