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
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Literal

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase

from explorer.blocks import (  # noqa: F401  (re-exported: the app imports blocks from here)
    BasicBlock,
    Bottleneck,
    ResidualBlock,
    ShortcutA,
    conv1x1,
    conv3x3,
    make_shortcut,
)
from explorer.preact import PreActBasicBlock, PreActBottleneck

FAMILIES = ("cifar", "imagenet")
SHORTCUTS = ("A", "B")
STEMS = ("imagenet", "small")
CIFAR_PRESETS = (20, 32, 44, 56, 110)  # the paper's CIFAR-10 depths (He et al. 2015, Table 6)
CIFAR_DEPTHS = (8, 14, *CIFAR_PRESETS)  # the depths the app offers: two small ones for quick runs, then the paper's
MAX_CIFAR_DEPTH = 1202  # the paper's deepest (n = 200)
BLOCKS = ("basic", "bottleneck")
# cifar depth rules per block: (layers per block, deepest offered, the paper's depths)
CIFAR_BLOCK_RULES = {"basic": (6, MAX_CIFAR_DEPTH, CIFAR_PRESETS), "bottleneck": (9, 1001, (164, 1001))}
PREACT_DEPTHS = (110, 164, 1001)  # He et al. 2016, Table 3 (110: basic blocks; 164, 1001: bottleneck)
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
    preact: bool = False  # He et al. 2016's full pre-activation blocks; runs saved before it load as False
    block: Literal["basic", "bottleneck"] | None = None  # cifar: basic (6n+2) or bottleneck (9n+2)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        cifar = self.family == "cifar"
        if self.block is None:
            object.__setattr__(self, "block", IMAGENET_BLOCKS.get(self.depth, ("basic",))[0] if not cifar else "basic")
        if self.block not in BLOCKS:
            raise ValueError(f"block must be one of {BLOCKS}, got {self.block!r}")
        defaults = {
            "shortcut": "A" if cifar and self.block == "basic" else "B",
            "width": 16 if cifar else 64,
            "num_classes": 10 if cifar else 1000,
            "stem": "small" if cifar else "imagenet",
        }
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if not isinstance(self.depth, int) or isinstance(self.depth, bool):
            raise ValueError(f"depth must be an integer, got {self.depth!r}")
        if cifar:
            check_cifar_depth(self.depth, self.block)
        if not cifar and self.depth not in IMAGENET_BLOCKS:
            raise ValueError(f"imagenet depth must be one of {tuple(IMAGENET_BLOCKS)}, got {self.depth}")
        if not cifar and self.block != IMAGENET_BLOCKS[self.depth][0]:
            raise ValueError(f"ImageNet ResNet-{self.depth} has {IMAGENET_BLOCKS[self.depth][0]} blocks")
        if not isinstance(self.preact, bool):
            raise ValueError(f"preact must be True or False, got {self.preact!r}")
        if self.preact and not cifar:
            raise ValueError("pre-activation blocks are built for the cifar family only")
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
    def stage_blocks(self) -> tuple[int, ...]:
        """Blocks per stage: (n, n, n) for cifar, torchvision's table for imagenet."""
        if self.family == "cifar":
            n = (self.depth - 2) // CIFAR_BLOCK_RULES[self.block][0]
            return (n, n, n)
        return IMAGENET_BLOCKS[self.depth][1]

    @property
    def name(self) -> str:
        """A short human name, e.g. 'ResNet-20', 'Plain-56', 'ResNet-50 (ImageNet)', 'ResNet-164 (pre-act)'."""
        kind = "ResNet" if self.residual else "Plain"
        suffix = " (ImageNet)" if self.family == "imagenet" else " (pre-act)" if self.preact else ""
        return f"{kind}-{self.depth}{suffix}"

    def twin(self) -> ResNetConfig:
        """The same network with the residual switch flipped."""
        return replace_config(self, residual=not self.residual)


def check_cifar_depth(depth: int, block: str = "basic") -> None:
    """A ValueError naming the depths that fit, unless ``depth`` fits cifar ``block``s (6n+2 or 9n+2)."""
    per, deepest, paper = CIFAR_BLOCK_RULES[block]
    if 2 + per <= depth <= deepest and (depth - 2) % per == 0:
        return
    other = "bottleneck" if block == "basic" else "basic"
    o_per, o_deepest, _ = CIFAR_BLOCK_RULES[other]
    k = (min(max(depth, 2 + per), deepest) - 2) // per
    near = sorted({k * per + 2, min(deepest, (k + 1) * per + 2)})
    hint = f"; {depth} fits {other} blocks" if 2 + o_per <= depth <= o_deepest and (depth - 2) % o_per == 0 else ""
    raise ValueError(
        f"cifar {block} blocks need depth {per}n+2 between {2 + per} and {deepest} "
        f"(nearest: {', '.join(map(str, near))}; the paper's: {', '.join(map(str, paper))}), got {depth}{hint}"
    )


def replace_config(config: ResNetConfig, **changes) -> ResNetConfig:
    """dataclasses.replace that re-derives the family defaults when the family changes.

    An ImageNet depth names its block kind, so a new depth (or family) re-derives the block there; a new
    block re-derives the default shortcut (A for cifar basic blocks, B otherwise).
    """
    if "family" in changes and changes["family"] != config.family:
        defaults = {f.name: f.default for f in fields(ResNetConfig) if f.default is None}
        changes = {**defaults, **changes}
    family = changes.get("family", config.family)
    if family == "imagenet" and "block" not in changes and ("depth" in changes or "family" in changes):
        changes["block"] = None
    if "block" in changes and changes["block"] != config.block and "shortcut" not in changes:
        changes["shortcut"] = None
    return replace(config, **changes)


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
    a build about 40% quicker with bit-identical weights (tests/test_models.py checks both). Other threads,
    and code outside the block, keep torch's default initialisation.
    """
    previous = getattr(_SKIP_INIT, "active", False)
    _SKIP_INIT.active = True
    try:
        yield
    finally:
        _SKIP_INIT.active = previous
