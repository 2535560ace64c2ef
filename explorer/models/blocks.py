"""The 2015 residual blocks (He et al. 2015, "Deep Residual Learning for Image Recognition"), after torchvision's.

``ResidualBlock`` holds what every block kind shares, the 2016 pre-activation blocks included
(explorer.models.preact): the residual switch, the lesion bypass and the shortcut scale.
Every ReLU is its own module and nothing is in place, so hooks see each tensor intact.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


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

    preact = False  # True for the 2016 pre-activation blocks (explorer.models.preact)

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

    def combine(self, x: torch.Tensor, out: torch.Tensor | None, identity: torch.Tensor | None = None) -> torch.Tensor:
        """Add the shortcut to the branch output, honouring the switches (``identity``: shortcut(x) if already known)."""
        if out is None:  # bypassed
            if not self.can_bypass:
                raise ValueError("a plain block that changes shape cannot be bypassed")
            return self.shortcut(x)
        if not self.residual:
            return out
        if identity is None:
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
