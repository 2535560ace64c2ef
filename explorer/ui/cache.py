"""The only place that uses st.cache_*: shared, read-only models, results and figures.

Cached models are shared by every session: callers never train, re-randomise or switch them; views
that need a switch work on a copy. Figures and views that are the same for every student are built
once per distinct input and shared: ``figure()`` keeps plotly's dict of a chart (building a
``go.Figure`` is mostly validation and deep copies, the bulk of a warm page run), ``view()`` keeps
what a computation returns for a shared model, keyed by the model's card, the image's hash and the
options. ``shared_models_report()`` checks that no view left a hook or a mode behind on them.

Importing it loads no torch (nor does the Learn page, the first one drawn): functions that compute import
what they compute with.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import sys
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from explorer import model_cards, runs
from explorer.charts import spec
from explorer.config import ResNetConfig
from explorer.i18n import N_, get_language, translator
from explorer.model_locks import model_lock  # the one lock per model: views that hook it or flip its modes
from explorer.summary_records import Summary

if TYPE_CHECKING:
    from explorer.datasets import Shapes
    from explorer.models import ResNet

ASSETS = Path(__file__).resolve().parents[2] / "assets"
ASSET_RUNS = ASSETS / "runs"
ASSET_EXPERIMENTS = ASSETS / "experiments"
DEFAULT_RUN = "shapes"  # assets/runs/shapes: the shapes pair at 20 and 56 layers trained to >= 95% (`make assets`)


def spinner(message: str) -> Callable:
    """Show ``message`` in the session's language while the decorated (cached) function runs: a cache's own
    ``show_spinner=`` text is fixed, in English, when the module loads. Like it, shown only after 0.5 s."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def call(*args, **kwargs):
            with st.spinner(translator().gettext(message)):
                return fn(*args, **kwargs)

        return call

    return wrap


class SpinnerText(str):
    """A cache's ``show_spinner=`` text in the session's language: Streamlit shows it only on a cache miss, as
    ``str(message)``, in the session's script thread (where the language is set). Unlike ``spinner``, a cache
    hit costs nothing: no element and no timer thread on every call."""

    def __str__(self) -> str:
        return translator().gettext(str.__str__(self))


@st.cache_resource(max_entries=32, show_spinner=False)
def _structure_and_summary(config: ResNetConfig) -> tuple[ResNet, Summary]:
    from explorer.summary import structure_and_summary

    with compute_slot():
        return structure_and_summary(config)


@spinner(N_("Counting parameters and multiply-accumulates…"))
@st.cache_data(show_spinner=False, max_entries=64)
def cached_summary(config: ResNetConfig, input_size: int | None = None) -> Summary:
    """The network's summary; at its family's input size from the same build as ``cached_structure``."""
    from explorer.summary import summarize_config

    if input_size is None:
        return _structure_and_summary(config)[1]
    return summarize_config(config, input_size)


@st.cache_data(show_spinner=False)
def _network_costs() -> dict[str, tuple[int, int]]:
    from explorer.experiments.precompute import load_network_costs

    return load_network_costs(ASSET_EXPERIMENTS)


def network_cost(config: ResNetConfig) -> tuple[int, int]:
    """(parameters, multiply-accumulates) of a network: from the precomputed asset for the ones the Learn page
    quotes (no summaries counted at start-up), otherwise from its summary."""
    from explorer.experiments.precompute import cost_key

    cost = _network_costs().get(cost_key(config))
    if cost is None:
        s = cached_summary(config)
        cost = (s.params, s.macs)
    return cost


def cached_structure(config: ResNetConfig) -> ResNet:
    """The network's modules on the meta device, built without torch's default initialisation: its shape without
    weights, for diagrams and counts (built once with its summary, shared read-only)."""
    return _structure_and_summary(config)[0]


@st.cache_data(max_entries=64, show_spinner=False)
def cached_twin_param_count(config: ResNetConfig) -> int:
    """The parameter count of ``config``'s twin, from ``config``'s own structure (no second network built)."""
    from explorer.summary import twin_params

    return twin_params(cached_structure(config))


_SHARED: weakref.WeakKeyDictionary[ResNet, tuple] = weakref.WeakKeyDictionary()  # model -> fingerprint
_SHARED_GUARD = threading.Lock()


def _fingerprint(model: ResNet) -> tuple:
    """What changes if anyone trains, re-randomises or freezes the model: every floating-point tensor's L2 norm,
    every parameter's and buffer's version counter and the ``requires_grad`` flags.

    The norms come from one fused call per device and dtype (``torch._foreach_norm``, as clip_grad_norm_ uses;
    the L2 norm is the quickest of them on the CPU), not one Python-level reduction per tensor; they see any
    change worth the name, however it was made (through ``.data``, or a batch-norm's running statistics moved by
    a forward pass in training mode, which bumps no counter). The version counters see every in-place write
    through the tensor itself (an optimiser step, ``nn.init``, ``load_state_dict``), however small.
    """
    import torch

    params = list(model.parameters())
    tensors = params + list(model.buffers())
    groups: dict[tuple, list] = {}
    for t in tensors:
        if t.is_floating_point():
            groups.setdefault((t.device, t.dtype), []).append(t)
    with torch.no_grad():
        norms = tuple(torch.stack(torch._foreach_norm(g, 2)).cpu().numpy().tobytes() for g in groups.values())
    return norms, tuple(t._version for t in tensors), tuple(p.requires_grad for p in params)


@st.cache_resource(max_entries=8, show_spinner=SpinnerText(N_("Loading the network…")))
def cached_card_model(card: model_cards.ModelCard, download: bool = False, device: str = "cpu") -> ResNet:
    """A shared, read-only network for a card (untrained, precomputed or pretrained), on ``device``."""
    with compute_slot():
        model = model_cards.load_model(card, download=download, like=_loaded_twin(card))
    if str(next(model.parameters()).device) != device:  # where it is already, .to would only walk every module
        model = model.to(device)
    fingerprint = _fingerprint(model)
    with _SHARED_GUARD:
        _SHARED[model] = fingerprint
        if card.source == model_cards.UNTRAINED:
            _UNTRAINED[card] = model
    return model


_UNTRAINED: weakref.WeakValueDictionary[model_cards.ModelCard, ResNet] = weakref.WeakValueDictionary()


def _loaded_twin(card: model_cards.ModelCard) -> ResNet | None:
    """An untrained card's twin as a shared model, if one is loaded, on the CPU and unchanged (its fingerprint):
    the twins share every layer but the projections, so those are copied rather than drawn again (a page
    shows a network and its twin: half the random draws of a view)."""
    if card.source != model_cards.UNTRAINED:
        return None
    with _SHARED_GUARD:
        twin = _UNTRAINED.get(model_cards.twin_card(card))
        loaded = _SHARED.get(twin) if twin is not None else None
    if loaded is None or next(twin.parameters()).device.type != "cpu" or _fingerprint(twin) != loaded:
        return None
    return twin


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
    fig = _build(*_args, **_kwargs)
    return spec.to_dict(fig) if isinstance(fig, dict) else fig.to_dict()


def figure(build: Callable, *args, **kwargs) -> dict:
    """``build(*args, **kwargs)`` as plotly's dict, built once per distinct input and shared by every session.

    ``build`` is a pure chart function (``explorer.charts``) of plain, hashable-by-value arguments that returns
    a ``go.Figure`` or a dict already in plotly's form (``explorer.charts.spec``).
    """
    return _figure(build, _name(build), (get_language(), *_keys(args, kwargs)), args, kwargs)  # text is per language


def _key(value):
    """How an argument enters a cache key: plain values as themselves, arrays and tensors as a digest of
    their bytes, anything else (histories, results) as a digest of its pickle, which is far quicker than
    Streamlit's hasher walking every float of a training history."""
    import numpy as np

    torch = sys.modules.get("torch")  # a tensor means torch is loaded: plain arguments never load it
    if value is None or isinstance(value, str | int | float | bool | ResNetConfig | model_cards.ModelCard):
        return value
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return "sha1:" + hashlib.sha1(value.tobytes() + str((value.shape, value.dtype)).encode()).hexdigest()
    return "pickle:" + hashlib.sha1(pickle.dumps(value, protocol=5)).hexdigest()


def _keys(args: tuple, kwargs: dict) -> tuple:
    return tuple(_key(a) for a in args), tuple((k, _key(v)) for k, v in sorted(kwargs.items()))


@st.cache_data(max_entries=512, show_spinner=False)
def _view(_compute: Callable, name: str, card: model_cards.ModelCard, _model, key: tuple, _args: tuple, _kwargs: dict):
    with model_lock(_model), compute_slot():
        result = _compute(_model, *_args, **_kwargs)
    release_freed_memory()
    return result


_SLOTS = threading.BoundedSemaphore(
    max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
)


@contextlib.contextmanager
def compute_slot():
    """One of as many slots as the process has cores, held while a view computes with torch.

    Thirty students opening their own views at once would otherwise run thirty forward passes at once on two cores:
    each slower, and all of them together slower than the same work two at a time (the interpreter's lock, torch's
    thread pools and the CPU caches shared thirty ways). Waiting for a slot costs no CPU. Measured with
    ``bench/bench_class.py --varied`` (30 sessions, 2 cores, twice each way): Inside 0.14 -> 0.09 server CPU-s per
    view and p95 3.3 -> 2.3 s; Explain 0.16 -> 0.11 and 3.6 -> 2.6 s; Build and Gradients likewise.
    """
    with _SLOTS:
        yield


_TRIM = {"last": 0.0, "lock": threading.Lock()}


def release_freed_memory(every_s: float = 10.0) -> None:
    """Hand memory that torch freed back to the system (glibc's ``malloc_trim``), at most once per ``every_s``.

    Sessions run in threads, so glibc gives them their own heaps ("arenas") and keeps what a forward pass freed
    in them for reuse: after 120 distinct views a class server held 3.6 GB for 0.3 GB of live tensors. A trim
    after a computed view, at most every 10 s (each trim makes the next views fault their memory in again: once a
    second cost 0.1 CPU-s per view), bounds it (bench/bench_class.py --varied prints the RSS).
    """
    import ctypes
    import time

    now = time.monotonic()
    with _TRIM["lock"]:
        if now - _TRIM["last"] < every_s:
            return
        _TRIM["last"] = now
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): nothing to trim this way
        return
    libc.malloc_trim(0)


def view(compute: Callable, card: model_cards.ModelCard, model: ResNet, *args, **kwargs):
    """``compute(model, *args, **kwargs)``, cached by what it computes: the card, the images' hashes, the options.

    Only for the shared models of ``cached_card_model`` (a card names them exactly); a session's own
    networks share a card with nobody, so they are computed directly. ``compute`` is a named function
    (never a lambda: its name is part of the key) that leaves the model as it found it.
    """
    if card.source == model_cards.SESSION:
        with model_lock(model):
            result = compute(model, *args, **kwargs)
        release_freed_memory()
        return result
    device = str(next(model.parameters()).device)  # the same card on another device is another model
    return _view(compute, _name(compute), card, model, (device, get_language(), *_keys(args, kwargs)), args, kwargs)


def _architecture(config: ResNetConfig, scale: float):
    from explorer.charts.model import architecture_spec

    return architecture_spec(cached_structure(config), cached_summary(config).layers, scale)


def architecture_spec(config: ResNetConfig, scale: float) -> dict:
    """Build's diagram of a network, one per config and shortcut scale for the whole class."""
    return figure(_architecture, config, scale)


@st.cache_data(max_entries=32, show_spinner=False)
def _probe_batch(card: model_cards.ModelCard, _model: ResNet, n: int):
    from explorer import probes

    with model_lock(_model):  # labels the photos with the model in eval mode
        return probes.probe_batch(card, _model, n=n)


def cached_probe_batch(card: model_cards.ModelCard, model: ResNet, n: int = 32):
    """The gradient probe's batch (x, y) of ``n`` shapes (or the built-in photos) for a card, shared; a session's
    own network gets its own."""
    from explorer import probes

    if card.source != model_cards.SESSION:
        return _probe_batch(card, model, n)
    with model_lock(model):
        return probes.probe_batch(card, model, n=n)


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


@st.cache_data(show_spinner=False)
def shapes_samples(size: int = 32, n: int = 60) -> Shapes:
    """Held-out shapes for the image pickers (a seed no training run uses)."""
    from explorer.datasets import make_shapes

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
def precomputed_landscapes(folder: str = "landscape") -> tuple[list, list]:
    """Loss landscapes and init-to-trained lines of a degradation run's networks (assets/experiments/<folder>)."""
    from explorer.experiments.landscape import load_landscapes

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
