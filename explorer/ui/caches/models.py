"""The shared, read-only networks every session views (``cached_card_model``) and the check that no view changed them.

Callers never train, re-randomise or switch a shared model; views that need a switch work on a copy.
``shared_models_report()`` checks that no view left a hook or a mode behind on them, nor changed a weight.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

import streamlit as st

from explorer.i18n import N_
from explorer.interpret import model_cards
from explorer.ui.caches.results import compute_slot
from explorer.ui.spinners import SpinnerText

if TYPE_CHECKING:
    from explorer.models.resnet import ResNet


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
