"""What names a ResNet: ``ResNetConfig``, its families, depths, blocks and shortcuts, and the rules they follow.

Torch-free, so pages, caches and run loaders can name and check networks without importing torch
(``explorer.models.resnet`` builds them).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Literal

FAMILIES = ("cifar", "imagenet")
SHORTCUTS = ("A", "B")
STEMS = ("imagenet", "small")
CIFAR_PRESETS = (20, 32, 44, 56, 110)  # the paper's CIFAR-10 depths (He et al. 2015, Table 6)
CIFAR_DEPTHS = (8, 14, *CIFAR_PRESETS)  # the depths the app offers: two small ones for quick runs, then the paper's
CIFAR_WIDTHS = (4, 8, 16, 32)  # the first stage's channels the app offers (the paper's 16, narrower, wider)
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
