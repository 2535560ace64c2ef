"""The computed caches of ``explorer.ui``, shared by every session: structures and summaries, figures and views.

Figures and views that are the same for every student are built once per distinct input and shared: ``figure()``
keeps plotly's dict of a chart (building a ``go.Figure`` is mostly validation and deep copies, the bulk of a warm
page run), ``view()`` keeps what a computation returns for a shared model (``explorer.ui.caches.models``), keyed by
the model's card, the image's hash and the options; a view computes in one of as many slots as the process has cores
(``compute_slot``). The precomputed assets are loaded in ``explorer.ui.caches.assets``.

Importing it loads no torch (nor does the Learn page, the first one drawn): functions that compute import
what they compute with.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import streamlit as st

from explorer.charts import spec
from explorer.i18n import N_, get_language
from explorer.interpret import model_cards
from explorer.models.config import ResNetConfig
from explorer.models.locks import model_lock  # the one lock per model: views that hook it or flip its modes
from explorer.models.summary_records import Summary
from explorer.ui.caches.assets import ASSET_EXPERIMENTS
from explorer.ui.spinners import spinner

if TYPE_CHECKING:
    from explorer.data.shapes import Shapes
    from explorer.models.resnet import ResNet


@st.cache_resource(max_entries=32, show_spinner=False)
def _structure_and_summary(config: ResNetConfig) -> tuple[ResNet, Summary]:
    from explorer.models.summary import structure_and_summary

    with compute_slot():
        return structure_and_summary(config)


@spinner(N_("Counting parameters and multiply-accumulates…"))
@st.cache_data(show_spinner=False, max_entries=64)
def cached_summary(config: ResNetConfig, input_size: int | None = None) -> Summary:
    """The network's summary; at its family's input size from the same build as ``cached_structure``."""
    from explorer.models.summary import summarize_config

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
    from explorer.models.summary import twin_params

    return twin_params(cached_structure(config))


def _name(fn: Callable) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


@st.cache_data(max_entries=512, show_spinner=False)
def _figure(_build: Callable, name: str, key: tuple, _args: tuple, _kwargs: dict) -> dict:
    return spec.as_dict(_build(*_args, **_kwargs))


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

    if value is None or isinstance(value, str | int | float | bool | ResNetConfig | model_cards.ModelCard):
        return value
    # a tensor is known by its type's module, never through sys.modules["torch"]: while the preload thread imports
    # torch, another session's run would find it there half initialised, without its Tensor class
    if any(c.__name__ == "Tensor" and c.__module__ == "torch" for c in type(value).__mro__):
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
    import time

    from explorer.engine import glibc

    now = time.monotonic()
    with _TRIM["lock"]:
        if now - _TRIM["last"] < every_s:
            return
        _TRIM["last"] = now
    glibc.release_freed_memory()


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
    from explorer.interpret import probes

    with model_lock(_model):  # labels the photos with the model in eval mode
        return probes.probe_batch(card, _model, n=n)


def cached_probe_batch(card: model_cards.ModelCard, model: ResNet, n: int = 32):
    """The gradient probe's batch (x, y) of ``n`` shapes (or the built-in photos) for a card, shared; a session's
    own network gets its own."""
    from explorer.interpret import probes

    if card.source != model_cards.SESSION:
        return _probe_batch(card, model, n)
    with model_lock(model):
        return probes.probe_batch(card, model, n=n)


@st.cache_data(show_spinner=False)
def shapes_samples(size: int = 32, n: int = 60) -> Shapes:
    """Held-out shapes for the image pickers (a seed no training run uses)."""
    from explorer.data.shapes import make_shapes

    return make_shapes(n, size=size, seed=12345)
