"""The one re-entrant lock per model object (``model_lock``), for views that hook a shared model or flip its modes.
No torch import: the caches hold it on every page, the first one included."""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def model_lock(model: nn.Module) -> threading.RLock:
    """The one re-entrant lock per model object: hold it for any view that hooks the model or flips its modes.

    A hook on a shared model sees every session's forward pass, and two views saving and restoring
    ``requires_grad`` at once can leave it switched off; sessions run in threads, so a class viewing one
    network takes turns (each view is short, and cached after the first). Attribution views take it themselves.
    """
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.RLock()
        return lock
