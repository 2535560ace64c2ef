"""Full pre-activation blocks, after He et al. 2016, "Identity Mappings in Deep Residual Networks", Fig. 4(e).

Batch norm and ReLU come before each convolution and nothing follows the addition:
x_{l+1} = x_l + F(x_l), so x_L = x_l + sum F (their eq. 4) and the gradient reaching x_l carries a term
straight from x_L (eq. 5). Where the shape changes, the block's first BN and ReLU are shared by the
branch and the shortcut, as in their released code (KaimingHe/resnet-1k-layers, "both_preact"):
the projection (or option A) reads the pre-activated input. Module names keep the 2015 blocks'
(``bn1``, ``conv1``, ..., ``downsample``); only their order differs.
"""

from __future__ import annotations

import torch
from torch import nn

from explorer.models.blocks import ResidualBlock, conv1x1, conv3x3


class PreActBlock(ResidualBlock):
    """What both pre-activation kinds share: out = F(x) + s * shortcut(x), no ReLU after the sum."""

    preact = True

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        """The block's first BN and ReLU."""
        out = self.bn1(x)
        out = self.relu1(out)
        return out

    def convs(self, pre: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """F(x), from the block's input (BN and ReLU first)."""
        return self.convs(self.pre(x))

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """Identity where the shape fits; otherwise option A or a projection of the pre-activated input."""
        return x if self.downsample is None else self.downsample(self.pre(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bypass:
            return self.combine(x, None)
        pre = self.pre(x)  # computed once: each ReLU module runs once per pass, so hooks see one tensor
        out = self.convs(pre)
        identity = self.downsample(pre) if self.residual and self.downsample is not None else None
        return self.combine(x, out, identity)


class PreActBasicBlock(PreActBlock):
    """BN-ReLU-3x3 conv, BN-ReLU-3x3 conv (pre-activation ResNet-110 and the other 6n+2 nets)."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int, residual: bool, shortcut: str) -> None:
        out_planes = planes * self.expansion
        super().__init__(residual, in_planes, out_planes, stride)
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU()
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.attach_shortcut(shortcut, in_planes, out_planes, stride)

    def convs(self, pre: torch.Tensor) -> torch.Tensor:
        """The rest of F after the first BN-ReLU: conv, BN, ReLU, conv."""
        out = self.conv1(pre)
        out = self.bn2(out)
        out = self.relu2(out)
        out = self.conv2(out)
        return out


class PreActBottleneck(PreActBlock):
    """BN-ReLU-1x1, BN-ReLU-3x3, BN-ReLU-1x1 with expansion 4 (pre-activation ResNet-164 and -1001).

    The stride sits on the 3x3, as in the app's 2015 bottleneck (the released code strides the first 1x1;
    the parameters are the same).
    """

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int, residual: bool, shortcut: str) -> None:
        out_planes = planes * self.expansion
        super().__init__(residual, in_planes, out_planes, stride)
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU()
        self.conv1 = conv1x1(in_planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU()
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes)
        self.relu3 = nn.ReLU()
        self.conv3 = conv1x1(planes, out_planes)
        self.attach_shortcut(shortcut, in_planes, out_planes, stride)

    def convs(self, pre: torch.Tensor) -> torch.Tensor:
        """The rest of F after the first BN-ReLU: 1x1, BN, ReLU, 3x3, BN, ReLU, 1x1."""
        out = self.conv1(pre)
        out = self.bn2(out)
        out = self.relu2(out)
        out = self.conv2(out)
        out = self.bn3(out)
        out = self.relu3(out)
        out = self.conv3(out)
        return out
