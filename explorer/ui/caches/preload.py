"""Torch and the network code, loaded in the background once the first page is drawn.

The first page (Learn) is drawn without torch: importing it costs about a second of CPU, which would delay every
start of the server. A few seconds after the first page of a server process, a background thread imports it, so
the page a student opens next (Build, Inside...) does not wait for it. Once per process.
"""

from __future__ import annotations

import importlib
import logging
import threading

log = logging.getLogger(__name__)

DELAY_S = 5.0  # after the first page's script run: its charts and tables are still being drawn in the browser
# torch, what every page with a network imports first, and torchvision (the network picker asks it which ImageNet
# weights are cached: about a second of CPU on the first Inside, Gradients or Explain visit otherwise)
MODULES = ("explorer.models.resnet", "explorer.models.summary", "torchvision.models")

_STARTED = threading.Event()
_GUARD = threading.Lock()


def _import_all() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # a page that needs it will import it again and show the error where it belongs
            log.exception("preloading %s failed", name)
            return


def preload_later(delay_s: float = DELAY_S) -> None:
    """Import ``MODULES`` on a daemon thread ``delay_s`` from now, the first time this process asks."""
    with _GUARD:
        if _STARTED.is_set():
            return
        _STARTED.set()
    timer = threading.Timer(delay_s, _import_all)
    timer.daemon = True
    timer.start()
