"""What the training engine records: gradient norms and block responses, into the per-model histories of
``explorer.training.history`` (see there on reading a ``History`` from another thread).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """(module name, weight) of every conv and linear layer, in registration order.

    For these ResNets registration order is forward order (a block's projection shortcut comes
    after its branch convolutions).
    """
    return [(name, m.weight) for name, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def grad_norms(weights: list[torch.Tensor]) -> list[float]:
    """L2 norm of each weight's ``.grad`` (0.0 where a layer got no gradient), one sync for all."""
    grads = [w.grad if w.grad is not None else torch.zeros(1) for w in weights]
    return torch.stack(torch._foreach_norm(grads)).tolist()


def _branch_output_module(block: nn.Module) -> nn.Module:
    """The last BN of a residual branch: its output is F(x), the branch before the addition."""
    return block.bn3 if hasattr(block, "bn3") else block.bn2


@contextmanager
def record_responses(model: nn.Module) -> Iterator[dict[str, dict[str, float]]]:
    """Record each block's output norm and its branch F(x)'s norm during the forward passes inside.

    Yields ``{"output": {block: norm}, "branch": {block: norm}}``: the mean over the batch of each
    sample's L2 norm (He et al. 2015, Fig. 7 uses the std of the branch responses). A bypassed block
    has no branch norm. Hooks are removed on exit, even through an exception.
    """
    found: dict[str, dict[str, float]] = {"output": {}, "branch": {}}
    handles = []

    def hook(kind: str, name: str):
        def fn(_module, _inputs, output):
            with torch.no_grad():
                found[kind][name] = output.detach().flatten(1).norm(dim=1).mean().item()

        return fn

    try:
        for name, block in model.blocks():
            handles.append(block.register_forward_hook(hook("output", name)))
            handles.append(_branch_output_module(block).register_forward_hook(hook("branch", name)))
        yield found
    finally:
        for h in handles:
            h.remove()
