"""Where tensors live: the one place that chooses CUDA, then Apple's MPS, then the CPU.

Every computation (training, views, experiments) takes a ``device`` argument or follows its model's
device; ``pick_device("auto")`` is what a user gets by default. Results on a GPU equal the CPU's to
floating-point tolerance (cuDNN may choose other convolution algorithms), never bit for bit.
"""

from __future__ import annotations

import torch
from torch import nn

CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """The devices this machine can run on, fastest first; "cpu" is always last."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if _mps_available():
        found.append("mps")
    return found + ["cpu"]


def pick_device(name: str | torch.device | None = "auto") -> torch.device:
    """A torch.device from a user's choice: "auto" (or None) is CUDA, then MPS, then CPU.

    Raises:
        ValueError: an unknown name, or a device this machine does not have.
    """
    if isinstance(name, torch.device):
        name = str(name)
    name = "auto" if name is None else str(name).strip().lower()
    if name == "auto":
        return torch.device(available_devices()[0])
    kind = name.split(":")[0]
    if kind not in CHOICES:
        raise ValueError(f"device must be one of {CHOICES} (or e.g. 'cuda:1'), got {name!r}")
    if kind not in available_devices():
        raise ValueError(f"this machine has no {kind!r} device; available: {available_devices()}")
    return torch.device(name)


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's first parameter (or buffer); CPU for a model with neither."""
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work, so that a timing covers it (a no-op on the CPU)."""
    kind = torch.device(device).type
    if kind == "cuda":
        torch.cuda.synchronize()
    elif kind == "mps":
        torch.mps.synchronize()
