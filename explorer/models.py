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
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

FAMILIES = ("cifar", "imagenet")
SHORTCUTS = ("A", "B")
STEMS = ("imagenet", "small")
CIFAR_PRESETS = (20, 32, 44, 56, 110)  # the paper's CIFAR-10 depths (He et al. 2015, Table 6)
CIFAR_DEPTHS = (8, 14, *CIFAR_PRESETS)  # the depths the app offers: two small ones for quick runs, then the paper's
MAX_CIFAR_DEPTH = 1202  # the paper's deepest (n = 200)
# depth -> (block kind, blocks per stage), as torchvision's resnetNN builders
IMAGENET_BLOCKS: dict[int, tuple[str, tuple[int, ...]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


@dataclass(frozen=True)
class ResNetConfig:
    """Names a network completely. Frozen, so it is hashable and can key caches.

    ``None`` fields take the family's default: shortcut A/B, width 16/64, 10/1000 classes,
    stem "small"/"imagenet" for cifar/imagenet.
    """

    family: Literal["cifar", "imagenet"] = "cifar"
    depth: int = 20
    residual: bool = True
    shortcut: Literal["A", "B"] | None = None
    width: int | None = None
    num_classes: int | None = None
    in_channels: int = 3
    stem: Literal["imagenet", "small"] | None = None
    zero_init_residual: bool = False

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        cifar = self.family == "cifar"
        defaults = {
            "shortcut": "A" if cifar else "B",
            "width": 16 if cifar else 64,
            "num_classes": 10 if cifar else 1000,
            "stem": "small" if cifar else "imagenet",
        }
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if not isinstance(self.depth, int) or isinstance(self.depth, bool):
            raise ValueError(f"depth must be an integer, got {self.depth!r}")
        if cifar and (self.depth < 8 or self.depth > MAX_CIFAR_DEPTH or (self.depth - 2) % 6):
            raise ValueError(
                f"cifar depth must be 6n+2 between 8 and 1202 (e.g. {', '.join(map(str, CIFAR_PRESETS))}), "
                f"got {self.depth}"
            )
        if not cifar and self.depth not in IMAGENET_BLOCKS:
            raise ValueError(f"imagenet depth must be one of {tuple(IMAGENET_BLOCKS)}, got {self.depth}")
        if cifar and self.stem != "small":
            raise ValueError(f"the cifar family has only the 'small' 3x3 stem, got stem={self.stem!r}")
        if self.stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}, got {self.stem!r}")
        if self.shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {SHORTCUTS}, got {self.shortcut!r}")
        for name in ("width", "num_classes", "in_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.residual, bool):
            raise ValueError(f"residual must be True or False, got {self.residual!r}")

    @property
    def block(self) -> str:
        """'basic' or 'bottleneck'."""
        return "basic" if self.family == "cifar" else IMAGENET_BLOCKS[self.depth][0]

    @property
    def stage_blocks(self) -> tuple[int, ...]:
        """Blocks per stage: (n, n, n) for cifar, torchvision's table for imagenet."""
        if self.family == "cifar":
            n = (self.depth - 2) // 6
            return (n, n, n)
        return IMAGENET_BLOCKS[self.depth][1]

    @property
    def name(self) -> str:
        """A short human name, e.g. 'ResNet-20', 'Plain-56', 'ResNet-50 (ImageNet)'."""
        kind = "ResNet" if self.residual else "Plain"
        suffix = " (ImageNet)" if self.family == "imagenet" else ""
        return f"{kind}-{self.depth}{suffix}"

    def twin(self) -> ResNetConfig:
        """The same network with the residual switch flipped."""
        return replace_config(self, residual=not self.residual)


def replace_config(config: ResNetConfig, **changes) -> ResNetConfig:
    """dataclasses.replace that re-derives the family defaults when the family changes."""
    if "family" in changes and changes["family"] != config.family:
        defaults = {f.name: f.default for f in fields(ResNetConfig) if f.default is None}
        changes = {**defaults, **changes}
    return replace(config, **changes)


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding"""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution"""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ShortcutA(nn.Module):
    """Option A: strided identity with zero-padded extra channels; no parameters (paper, section 3.3)."""

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        self.in_planes, self.out_planes, self.stride = in_planes, out_planes, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (B, C_in, H/s, W/s)
        return F.pad(x, (0, 0, 0, 0, 0, self.out_planes - self.in_planes))

    def extra_repr(self) -> str:
        return f"{self.in_planes}, {self.out_planes}, stride={self.stride}"


def make_shortcut(kind: str, in_planes: int, out_planes: int, stride: int) -> nn.Module | None:
    """The shortcut where the shape changes (None where identity fits)."""
    if stride == 1 and in_planes == out_planes:
        return None
    if kind == "A":
        return ShortcutA(in_planes, out_planes, stride)
    return nn.Sequential(conv1x1(in_planes, out_planes, stride), nn.BatchNorm2d(out_planes))


class ResidualBlock(nn.Module):
    """What both block kinds share: the residual switch, the lesion bypass and the shortcut scale.

    out = relu(F(x) + s * shortcut(x)) when residual; relu(F(x)) when plain.
    ``bypass`` skips F(x) (Veit et al. 2016): out = relu(shortcut(x)); a plain block can be
    bypassed only where the identity fits its shapes. None of these switches touches a parameter.
    """

    def __init__(self, residual: bool, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        self.residual = residual
        self.same_shape = stride == 1 and in_planes == out_planes
        self.bypass = False
        self.shortcut_scale = 1.0

    def attach_shortcut(self, kind: str, in_planes: int, out_planes: int, stride: int) -> None:
        """Registered last, so the state_dict keys come in torchvision's order."""
        self.downsample = make_shortcut(kind, in_planes, out_planes, stride) if self.residual else None

    @property
    def can_bypass(self) -> bool:
        """Whether skipping F(x) leaves a valid network."""
        return self.residual or self.same_shape

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """The shortcut path (identity, option A or projection); for a plain block, identity."""
        return x if self.downsample is None else self.downsample(x)

    def combine(self, x: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
        """Add the shortcut to the branch output, honouring the switches."""
        if out is None:  # bypassed
            if not self.can_bypass:
                raise ValueError("a plain block that changes shape cannot be bypassed")
            return self.shortcut(x)
        if not self.residual:
            return out
        identity = self.shortcut(x)
        if self.shortcut_scale != 1.0:
            identity = identity * self.shortcut_scale
        return out + identity


class BasicBlock(ResidualBlock):
    """Two 3x3 convolutions (ResNet-18/34 and all CIFAR nets)."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int, residual: bool, shortcut: str) -> None:
        out_planes = planes * self.expansion
        super().__init__(residual, in_planes, out_planes, stride)
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU()
        self.attach_shortcut(shortcut, in_planes, out_planes, stride)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): conv-bn-relu-conv-bn, before the addition."""
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu1(out)
        out = self.conv2(out)
        out = self.bn2(out)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = None if self.bypass else self.branch(x)
        out = self.combine(x, out)
        return self.relu2(out)


class Bottleneck(ResidualBlock):
    """1x1 -> 3x3 -> 1x1 with expansion 4, stride on the 3x3 (torchvision's "ResNet V1.5")."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int, residual: bool, shortcut: str) -> None:
        out_planes = planes * self.expansion
        super().__init__(residual, in_planes, out_planes, stride)
        self.conv1 = conv1x1(in_planes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU()
        self.conv3 = conv1x1(planes, out_planes)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.relu3 = nn.ReLU()
        self.attach_shortcut(shortcut, in_planes, out_planes, stride)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): 1x1-bn-relu-3x3-bn-relu-1x1-bn, before the addition."""
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu1(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out = self.relu2(out)
        out = self.conv3(out)
        out = self.bn3(out)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = None if self.bypass else self.branch(x)
        out = self.combine(x, out)
        return self.relu3(out)


class ResNet(nn.Module):
    """A ResNet or its plain twin; module names follow torchvision's."""

    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        self.config = config
        block = BasicBlock if config.block == "basic" else Bottleneck
        w = config.width
        if config.stem == "imagenet":
            self.conv1 = nn.Conv2d(config.in_channels, w, kernel_size=7, stride=2, padding=3, bias=False)
        else:
            self.conv1 = conv3x3(config.in_channels, w)
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
        x = self.bn1(x)
        x = self.relu(x)
        if self.config.stem == "imagenet":
            x = self.maxpool(x)
        for stage in self.stages:
            x = getattr(self, stage)(x)
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


@torch.no_grad()
def init_weights(model: ResNet, seed: int = 0) -> None:
    """Kaiming normal (fan_out, ReLU) convs, BN 1/0, fc as nn.Linear, all seeded per layer name.

    With ``zero_init_residual`` the last BN of each residual branch starts at 0 (Goyal et al. 2017).
    """
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups
            std = (2.0 / fan_out) ** 0.5
            m.weight.copy_(torch.randn(m.weight.shape, generator=_generator(seed, name)) * std)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
            m.reset_running_stats()
        elif isinstance(m, nn.Linear):
            bound = 1.0 / m.in_features**0.5  # nn.Linear's default, seeded
            g = _generator(seed, name)
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 2 * bound - bound)
            m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 2 * bound - bound)
    if model.config.zero_init_residual and model.config.residual:
        for _, b in model.blocks():
            last_bn = b.bn3 if isinstance(b, Bottleneck) else b.bn2
            nn.init.zeros_(last_bn.weight)


def build_resnet(config: ResNetConfig | None = None, seed: int = 0, **kwargs) -> ResNet:
    """Build and initialise the network ``config`` names.

    Args:
        config: the network; keyword arguments build one (``build_resnet(depth=56, residual=False)``).
        seed: initialisation seed; a plain net and its residual twin with one seed share weights.
    Returns:
        a ``ResNet`` in training mode on the CPU.
    """
    if config is None:
        config = ResNetConfig(**kwargs)
    elif kwargs:
        config = replace_config(config, **kwargs)
    model = ResNet(config)
    init_weights(model, seed)
    return model
