"""The only place that uses st.cache_*: shared, read-only models, results and figures.

Cached models are shared by every session: callers never train, re-randomise or switch them; views
that need a switch work on a copy. Figures and views that are the same for every student are built
once per distinct input and shared: ``figure()`` keeps plotly's dict of a chart (building a
``go.Figure`` is mostly validation and deep copies, the bulk of a warm page run), ``view()`` keeps
what a computation returns for a shared model, keyed by the model's card, the image's hash and the
options. ``shared_models_report()`` checks that no view left a hook or a mode behind on them.
"""

import hashlib
import pickle
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from explorer import model_cards, probes, runs
from explorer.attribution import model_lock  # the one lock per model: views that hook it or flip its modes
from explorer.datasets import Shapes, make_shapes
from explorer.i18n import N_, get_language
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


_SHARED: "weakref.WeakKeyDictionary[ResNet, tuple]" = weakref.WeakKeyDictionary()  # model -> fingerprint
_SHARED_GUARD = threading.Lock()


def _fingerprint(model: ResNet) -> tuple:
    """A checksum of every parameter and buffer and the ``requires_grad`` flags: it changes if anyone
    trains, re-randomises or freezes the model."""
    import torch

    with torch.no_grad():
        values = float(sum(t.double().abs().sum() for t in model.state_dict().values() if t.is_floating_point()))
    return values, tuple(p.requires_grad for p in model.parameters())


@st.cache_resource(max_entries=8, show_spinner="Loading the network…")
def cached_card_model(card: model_cards.ModelCard, download: bool = False, device: str = "cpu") -> ResNet:
    """A shared, read-only network for a card (untrained, precomputed or pretrained), on ``device``."""
    model = model_cards.load_model(card, download=download).to(device)
    fingerprint = _fingerprint(model)
    with _SHARED_GUARD:
        _SHARED[model] = fingerprint
    return model


def shared_models_report() -> dict[str, int]:
    """Shared models, and how many carry a hook, are in training mode, or changed since loading."""
    from torch.nn.modules import module as nn_module

    with _SHARED_GUARD:
        models = list(_SHARED.items())
    kinds = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    hooks = sum(len(getattr(m, k)) for model, _ in models for m in model.modules() for k in kinds)
    hooks += sum(len(p._backward_hooks or {}) for model, _ in models for p in model.parameters())
    hooks += len(nn_module._global_forward_hooks) + len(nn_module._global_backward_hooks)
    return {
        "models": len(models),
        "hooks": hooks,
        "training": sum(any(m.training for m in model.modules()) for model, _ in models),
        "changed": sum(_fingerprint(model) != fp for model, fp in models),
    }


def _name(fn: Callable) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


@st.cache_data(max_entries=512, show_spinner=False)
def _figure(_build: Callable, name: str, key: tuple, _args: tuple, _kwargs: dict) -> dict:
    return _build(*_args, **_kwargs).to_dict()


def figure(build: Callable, *args, **kwargs) -> dict:
    """``build(*args, **kwargs)`` as plotly's dict, built once per distinct input and shared by every session.

    ``build`` is a pure chart function (``explorer.charts``) of plain, hashable-by-value arguments.
    """
    return _figure(build, _name(build), (get_language(), *_keys(args, kwargs)), args, kwargs)  # text is per language


def _key(value):
    """How an argument enters a cache key: plain values as themselves, arrays and tensors as a digest of
    their bytes, anything else (histories, results) as a digest of its pickle, which is far quicker than
    Streamlit's hasher walking every float of a training history."""
    import numpy as np
    import torch

    if value is None or isinstance(value, str | int | float | bool | ResNetConfig | model_cards.ModelCard):
        return value
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return "sha1:" + hashlib.sha1(value.tobytes() + str((value.shape, value.dtype)).encode()).hexdigest()
    return "pickle:" + hashlib.sha1(pickle.dumps(value, protocol=5)).hexdigest()


def _keys(args: tuple, kwargs: dict) -> tuple:
    return tuple(_key(a) for a in args), tuple((k, _key(v)) for k, v in sorted(kwargs.items()))


@st.cache_data(max_entries=512, show_spinner=False)
def _view(_compute: Callable, name: str, card: model_cards.ModelCard, _model, key: tuple, _args: tuple, _kwargs: dict):
    with model_lock(_model):
        return _compute(_model, *_args, **_kwargs)


def view(compute: Callable, card: model_cards.ModelCard, model: ResNet, *args, **kwargs):
    """``compute(model, *args, **kwargs)``, cached by what it computes: the card, the images' hashes, the options.

    Only for the shared models of ``cached_card_model`` (a card names them exactly); a session's own
    networks share a card with nobody, so they are computed directly. ``compute`` is a named function
    (never a lambda: its name is part of the key) that leaves the model as it found it.
    """
    if card.source == model_cards.SESSION:
        with model_lock(model):
            return compute(model, *args, **kwargs)
    device = str(next(model.parameters()).device)  # the same card on another device is another model
    return _view(compute, _name(compute), card, model, (device, get_language(), *_keys(args, kwargs)), args, kwargs)


def _architecture(config: ResNetConfig, scale: float):
    from explorer.charts.model import architecture_figure

    return architecture_figure(cached_structure(config), cached_summary(config).layers, scale)


def architecture_spec(config: ResNetConfig, scale: float) -> dict:
    """Build's diagram of a network, one per config and shortcut scale for the whole class."""
    return figure(_architecture, config, scale)


@st.cache_data(max_entries=32, show_spinner=False)
def _probe_batch(card: model_cards.ModelCard, _model: ResNet):
    with model_lock(_model):  # labels the photos with the model in eval mode
        return probes.probe_batch(card, _model)


def cached_probe_batch(card: model_cards.ModelCard, model: ResNet):
    """The gradient probe's batch (x, y) for a card, shared; a session's own network gets its own."""
    if card.source != model_cards.SESSION:
        return _probe_batch(card, model)
    with model_lock(model):
        return probes.probe_batch(card, model)


@st.cache_data(show_spinner=False)
def precomputed_cards() -> list[model_cards.ModelCard]:
    """Networks trained by `make assets` and shipped in assets/runs."""
    cards: list[model_cards.ModelCard] = []
    for run in runs.find_runs(ASSET_RUNS):
        cards += model_cards.run_cards(run)
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


ZERO_GAMMA_LABELS = {
    "standard": N_("standard initialisation (γ = 1)"),
    "zero_gamma": N_("zero-γ initialisation (γ = 0)"),
}


@st.cache_data(show_spinner=False)
def zero_gamma_ratios(depth: int = 20) -> dict[str, list[tuple[str, float]]]:
    """||F(x)|| / ||x|| per block at initialisation, with and without zero-gamma (Goyal et al. 2017): the
    precomputed asset, measured here only when it is missing."""
    from explorer.experiments.precompute import load_zero_gamma, zero_gamma_ratios

    ratios = load_zero_gamma(ASSET_EXPERIMENTS, depth) or zero_gamma_ratios(depth)
    return {ZERO_GAMMA_LABELS[k]: v for k, v in ratios.items()}


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
