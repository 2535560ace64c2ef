"""ResNet Explorer: see why residual networks work (He et al. 2015), in PyTorch.

The names below load on first use (PEP 562) and the subpackages' ``__init__`` import nothing, so importing
``explorer`` or any of its packages does not import torch: the app's first page (Learn) is drawn without it.
"""

import importlib

_LAZY = {
    "ResNet": "explorer.models.resnet",
    "ResNetConfig": "explorer.models.config",
    "build_resnet": "explorer.models.resnet",
    "summarize": "explorer.models.summary",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'explorer' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
