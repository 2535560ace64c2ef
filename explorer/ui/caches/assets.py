"""The precomputed assets `make assets` ships (assets/runs, assets/experiments), each loaded once and shared
read-only by every session, and the runs found on disk.

Importing it loads no torch: each loader imports what it reads with.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from explorer.i18n import N_
from explorer.interpret import model_cards
from explorer.training import runs
from explorer.ui.spinners import SpinnerText

ASSETS = Path(__file__).resolve().parents[3] / "assets"
ASSET_RUNS = ASSETS / "runs"
ASSET_EXPERIMENTS = ASSETS / "experiments"
DEFAULT_RUN = "shapes"  # assets/runs/shapes: the shapes pair at 20 and 56 layers trained to >= 95% (`make assets`)


@st.cache_data(show_spinner=False)
def precomputed_cards() -> list[model_cards.ModelCard]:
    """Networks trained by `make assets` and shipped in assets/runs."""
    cards: list[model_cards.ModelCard] = []
    for run in runs.find_runs(ASSET_RUNS):
        cards += model_cards.run_cards(run)
    # the well-trained shapes run first: its networks are the pickers' default (Explain's first view)
    return sorted(
        cards, key=lambda c: (Path(c.run or "").name != DEFAULT_RUN, c.run or "", c.config.depth, not c.config.residual)
    )


@st.cache_resource(show_spinner=False)
def precomputed_run(name: str):
    """The run ``assets/runs/<name>`` (an ``explorer.training.runs.Run``, shared read-only), or None if absent."""
    from explorer.training.runs import load_run

    path = ASSET_RUNS / name
    return load_run(path) if (path / "config.json").is_file() else None


@st.cache_data(show_spinner=False)
def precomputed_sweeps() -> tuple[list | None, list | None]:
    """(gradient-norm depth sweep, shattered-gradients sweep) from assets/experiments, None where missing."""
    from explorer.experiments.precompute import load_shattered, load_sweep

    return load_sweep(ASSET_EXPERIMENTS), load_shattered(ASSET_EXPERIMENTS)


@st.cache_resource(show_spinner=False)
def _init_gradients():
    from explorer.experiments.init_gradients import load_init_gradients

    return load_init_gradients(ASSET_EXPERIMENTS)


def precomputed_gradient_norms(card: model_cards.ModelCard, train_mode: bool, images: int) -> list | None:
    """The Gradients page's per-layer norms for the sidebar's untrained network on ``images`` probe images
    (``cached_probe_batch``) from assets/experiments (``explorer.experiments.init_gradients``, computed exactly as
    the page computes them), or None: compute live."""
    table = _init_gradients()
    return None if table is None else table.lookup(card, train_mode, images)


@st.cache_data(show_spinner=False)
def precomputed_lesions() -> list | None:
    """Lesion studies of the degradation run's networks from assets/experiments, or None."""
    from explorer.experiments.precompute import load_lesions

    return load_lesions(ASSET_EXPERIMENTS)


@st.cache_data(show_spinner=False)
def precomputed_path_lengths() -> dict | None:
    """The gradient by path length of the degradation run's networks and at initialisation, or None."""
    from explorer.experiments.path_lengths import load_path_lengths

    return load_path_lengths(ASSET_EXPERIMENTS)


ZERO_GAMMA_LABELS = {
    "standard": N_("standard initialisation (γ = 1)"),
    "zero_gamma": N_("zero-γ initialisation (γ = 0)"),
}


@st.cache_data(show_spinner=False)
def zero_gamma_ratios(depth: int = 20) -> dict[str, list[tuple[str, float]]]:
    """||F(x)|| / ||shortcut(x)|| per block at initialisation, with and without zero-gamma (Goyal et al. 2017): the
    precomputed asset, measured here only when it is missing."""
    from explorer.experiments.precompute import load_zero_gamma, zero_gamma_ratios

    ratios = load_zero_gamma(ASSET_EXPERIMENTS, depth) or zero_gamma_ratios(depth)
    return {ZERO_GAMMA_LABELS[k]: v for k, v in ratios.items()}


@st.cache_data(show_spinner=SpinnerText(N_("Measuring layer responses…")))
def precomputed_responses(name: str) -> list[tuple[str, bool, int, list[float]]]:
    """He et al. Fig. 7 for the networks of ``assets/runs/<name>``: (network, residual, depth, stds), on held-out
    shapes; from assets/experiments (``python -m explorer precompute --responses-runs``), else measured here."""
    from explorer.experiments.precompute import layer_responses_of, load_layer_responses

    saved = load_layer_responses(ASSET_EXPERIMENTS).get(name)
    if saved is not None:
        return saved
    return layer_responses_of(ASSET_RUNS / name) if precomputed_run(name) is not None else []


@st.cache_data(show_spinner=False)
def precomputed_landscapes(folder: str = "landscape") -> tuple[list, list]:
    """Loss landscapes and init-to-trained lines of a degradation run's networks (assets/experiments/<folder>)."""
    from explorer.experiments.landscape_records import load_landscapes

    return load_landscapes(ASSET_EXPERIMENTS / folder)


@st.cache_data(show_spinner=False)
def precomputed_saliency() -> list[dict]:
    """The saliency benchmark of the shapes run's networks, trained and randomised (assets/experiments/saliency)."""
    from explorer.experiments.saliency import load_saliency

    return load_saliency(ASSET_EXPERIMENTS / "saliency")


def _runs_signature(roots: tuple[str, ...]) -> tuple:
    """Every file of every run folder under ``roots`` with its size and time: changes when a run is saved,
    extended or removed."""
    sig = []
    for root in map(Path, roots):
        for d in sorted(root.iterdir()) if root.is_dir() else []:
            if d.is_dir():
                sig += [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in d.iterdir() if f.is_file()]
    return tuple(sig)


@st.cache_resource(max_entries=4, show_spinner=False)
def _found_runs(roots: tuple[str, ...], signature: tuple) -> list:
    return runs.find_runs(*roots)


def found_runs(*roots: Path | str) -> list:
    """``runs.find_runs(*roots)``, read from disk again only when a run folder changed (shared, read-only)."""
    key = tuple(str(r) for r in roots)
    return _found_runs(key, _runs_signature(key))


@st.cache_data(show_spinner=False)
def precomputed_relu_place() -> dict | None:
    """The 'where the ReLU goes' runs summarised per seed (assets/experiments/relu_place.json), None if absent."""
    from explorer.experiments.relu_place import load_relu_place

    return load_relu_place(ASSET_EXPERIMENTS)
