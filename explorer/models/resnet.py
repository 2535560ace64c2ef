"""ResNets with a residual switch, after He et al. 2015, "Deep Residual Learning for Image Recognition".

Two families:
- ``cifar``: the paper's 6n+2 networks (section 4.2): a 3x3 stem, three stages of 16/32/64 channels
  of basic blocks, global average pool, fc; option-A (parameter-free) shortcuts by default.
- ``imagenet``: ResNet-18/34/50/101/152 as torchvision builds them (its module names, its state_dict
  keys), option-B (projection) shortcuts by default; a 7x7/2 stem with max-pool, or a 3x3/1 stem
  without it for small inputs.

``residual=False`` builds the plain twin (the paper's Fig. 3, middle): the same layers in the same
order with every shortcut removed, projections included, so the twins differ only by the additions.
Every ReLU is its own module and nothing is in place, so hooks see each tensor intact.

``preact=True`` (cifar only) builds the 2016 follow-up's full pre-activation network (He et al. 2016,
"Identity Mappings in Deep Residual Networks", Fig. 4(e) and their released code): a bare 3x3 conv stem,
blocks that start with BN and ReLU and end with the addition, and one last BN and ReLU before the pool.
``block="bottleneck"`` gives cifar nets 9n+2 bottleneck blocks (16/32/64 wide, expansion 4, projection
shortcuts by default): the paper's ResNet-164 and ResNet-1001.
"""

from __future__ import annotations

import functools
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase

from explorer.models.blocks import (
    BasicBlock,
    Bottleneck,
    ResidualBlock,
    conv3x3,
)
from explorer.models.config import (
    ResNetConfig,
    replace_config,
)
from explorer.models.preact import PreActBasicBlock, PreActBottleneck


class ResNet(nn.Module):
    """A ResNet or its plain twin; module names follow torchvision's."""

    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        self.config = config
        kinds = {False: (BasicBlock, Bottleneck), True: (PreActBasicBlock, PreActBottleneck)}[config.preact]
        block = kinds[config.block == "bottleneck"]
        w = config.width
        if config.stem == "imagenet":
            self.conv1 = nn.Conv2d(config.in_channels, w, kernel_size=7, stride=2, padding=3, bias=False)
        else:
            self.conv1 = conv3x3(config.in_channels, w)
        if not config.preact:  # a pre-activation net's stem is the bare conv: each block begins with BN, ReLU
            self.bn1 = nn.BatchNorm2d(w)
            self.relu = nn.ReLU()
        if config.stem == "imagenet":
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_planes = w
        for i, n in enumerate(config.stage_blocks):
            planes = w * 2**i
            stride = 1 if i == 0 else 2
            blocks = []
            for j in range(n):
                blocks.append(block(in_planes, planes, stride if j == 0 else 1, config.residual, config.shortcut))
                in_planes = planes * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        if config.preact:  # the last block ends with an addition: BN and ReLU before the pool (He et al. 2016)
            self.final_bn = nn.BatchNorm2d(in_planes)
            self.final_relu = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_planes, config.num_classes)
        self.num_features = in_planes

    @property
    def stages(self) -> list[str]:
        """Stage names: ['layer1', 'layer2', 'layer3'(, 'layer4')]."""
        return [f"layer{i + 1}" for i in range(len(self.config.stage_blocks))]

    def blocks(self) -> Iterator[tuple[str, ResidualBlock]]:
        """(name, block) for every residual block in forward order, e.g. ('layer1.0', block)."""
        for name, module in self.named_modules():
            if isinstance(module, ResidualBlock):
                yield name, module

    def set_shortcut_scale(self, scale: float) -> None:
        """out = F(x) + s * shortcut(x) in every block: s=0 is plain-like, s=1 residual."""
        if not 0.0 <= float(scale) <= 1.0:
            raise ValueError(f"shortcut scale must be in [0, 1], got {scale}")
        for _, b in self.blocks():
            b.shortcut_scale = float(scale)

    def set_bypass(self, names: list[str] | tuple[str, ...] | set[str]) -> None:
        """Bypass exactly the named blocks (skip their F(x)); an empty list restores all."""
        blocks = dict(self.blocks())
        unknown = set(names) - set(blocks)
        if unknown:
            raise ValueError(f"not residual blocks: {sorted(unknown)}; blocks are {list(blocks)}")
        for name, b in blocks.items():
            if name in names and not b.can_bypass:
                raise ValueError(f"{name} changes shape and has no shortcut, so it cannot be bypassed")
        for name, b in blocks.items():
            b.bypass = name in names

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Everything before the pool: (B, C, H, W) -> (B, C_last, h, w)."""
        x = self.conv1(x)
        if not self.config.preact:
            x = self.bn1(x)
            x = self.relu(x)
        if self.config.stem == "imagenet":
            x = self.maxpool(x)
        for stage in self.stages:
            x = getattr(self, stage)(x)
        if self.config.preact:
            x = self.final_bn(x)
            x = self.final_relu(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.forward_features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)  # (B, C_last)
        return self.fc(x)


def block_names(model: nn.Module) -> list[str]:
    """Residual block names in forward order ('layer1.0', ...)."""
    return [name for name, m in model.named_modules() if isinstance(m, ResidualBlock)]


@contextmanager
def eval_mode(model: nn.Module, freeze: bool = False) -> Iterator[nn.Module]:
    """Eval mode inside the block (and, with ``freeze``, no parameter requires grad); every module's own
    ``training`` flag and every parameter's ``requires_grad`` are put back afterwards, even on an exception.

        with eval_mode(model), torch.no_grad():
            logits = model(x)
    """
    modes = [(m, m.training) for m in model.modules() if m.training]  # a shared model is usually in eval already
    grads = [(p, p.requires_grad) for p in model.parameters() if p.requires_grad] if freeze else []
    try:
        for m, _ in modes:
            m.training = False
        for p, _ in grads:
            p.requires_grad_(False)
        yield model
    finally:
        for p, flag in grads:
            p.requires_grad_(flag)
        for m, flag in modes:
            m.training = flag


def _generator(seed: int, name: str) -> torch.Generator:
    """A generator per parameter name: twins share weights whatever else they build."""
    return torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))


def _same_draw(src: nn.Module | None, m: nn.Module) -> bool:
    """Whether ``src`` (a layer of ``like``, or None) was drawn as ``m`` is: same kind, weight shape and dtype."""
    return type(src) is type(m) and src.weight.shape == m.weight.shape and src.weight.dtype == m.weight.dtype


@torch.no_grad()
def init_weights(model: ResNet, seed: int = 0, like: ResNet | None = None) -> None:
    """Kaiming normal (fan_out, ReLU) convs, BN 1/0, fc as nn.Linear, all seeded per layer name.

    With ``zero_init_residual`` the last BN of each residual branch starts at 0 (Goyal et al. 2017); a
    pre-activation branch ends with a conv, not a BN, so there that conv starts at 0: F(x) = 0 either way.

    ``like``: a network this function initialised with the same ``seed``, unchanged since (a shared, read-only
    one, e.g. the twin): its convs and fc of the same name and shape are copied instead of drawn again, which is
    several times quicker and gives the same bits (each layer's generator is seeded by its name alone). Ignored
    when it was built with ``zero_init_residual`` (some of its convs are zeros, not draws).
    """
    kept = {}
    if like is not None and not like.config.zero_init_residual:
        kept = {name: m for name, m in like.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)}
    for name, m in model.named_modules():
        src = kept.get(name)
        if isinstance(m, nn.Conv2d):
            if _same_draw(src, m) and src.groups == m.groups:
                m.weight.copy_(src.weight)  # the same draw: same generator, shape and std
                continue
            fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups
            std = (2.0 / fan_out) ** 0.5
            m.weight.normal_(generator=_generator(seed, name)).mul_(std)  # torch.randn(...) * std, in place
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
            m.reset_running_stats()
        elif isinstance(m, nn.Linear):
            if _same_draw(src, m) and src.bias.shape == m.bias.shape:
                m.weight.copy_(src.weight)
                m.bias.copy_(src.bias)
                continue
            bound = 1.0 / m.in_features**0.5  # nn.Linear's default, seeded
            g = _generator(seed, name)
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 2 * bound - bound)
            m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 2 * bound - bound)
    if model.config.zero_init_residual and model.config.residual:
        for _, b in model.blocks():
            if b.preact:
                nn.init.zeros_(b.conv3.weight if hasattr(b, "conv3") else b.conv2.weight)
            else:
                nn.init.zeros_(b.bn3.weight if isinstance(b, Bottleneck) else b.bn2.weight)


def build_resnet(config: ResNetConfig | None = None, seed: int = 0, like: ResNet | None = None, **kwargs) -> ResNet:
    """Build and initialise the network ``config`` names.

    Args:
        config: the network; keyword arguments build one (``build_resnet(depth=56, residual=False)``).
        seed: initialisation seed; a plain net and its residual twin with one seed share weights.
        like: an unchanged network built with the same ``seed`` (e.g. the twin) whose layers of the same
            name and shape are copied rather than drawn again (``init_weights``): the same weights, quicker.
    Returns:
        a ``ResNet`` in training mode on the CPU.
    """
    if config is None:
        config = ResNetConfig(**kwargs)
    elif kwargs:
        config = replace_config(config, **kwargs)
    with _skip_default_init():
        model = ResNet(config)
    init_weights(model, seed, like)
    return model


def resnet_structure(config: ResNetConfig, device: str = "meta") -> ResNet:
    """The modules ``config`` names, with weights no one reads: torch's default initialisation is skipped.

    ``"meta"`` holds no memory (diagrams, parameter counts); ``"cpu"`` holds uninitialised memory, for a pass
    that needs only the shapes (``summary.summarize_config``).
    """
    with _skip_default_init(), torch.device(device) if device != "cpu" else nullcontext():
        return ResNet(config)


_SKIP_INIT = threading.local()


def _skippable_reset(cls: type[nn.Module]) -> None:
    """Make ``cls.reset_parameters`` a no-op inside ``_skip_default_init`` (in that thread only)."""
    original = cls.reset_parameters

    @functools.wraps(original)
    def reset_parameters(self) -> None:
        if not getattr(_SKIP_INIT, "active", False):
            original(self)

    cls.reset_parameters = reset_parameters


for _cls in (nn.Conv2d, nn.Linear, _NormBase):  # every module with parameters a ResNet holds
    _skippable_reset(_cls)


@contextmanager
def _skip_default_init() -> Iterator[None]:
    """Modules built in this thread inside the block skip torch's default fill of their parameters.

    ``init_weights`` then sets every parameter and buffer, so the fill was thrown away: skipping it makes
    a build about 40% quicker with bit-identical weights (tests/models/test_models.py checks both). Other threads,
    and code outside the block, keep torch's default initialisation.
    """
    previous = getattr(_SKIP_INIT, "active", False)
    _SKIP_INIT.active = True
    try:
        yield
    finally:
        _SKIP_INIT.active = previous
