"""ResNet Explorer: see why residual networks work (He et al. 2015), in PyTorch."""

from explorer.models import ResNet, ResNetConfig, build_resnet
from explorer.summary import summarize

__all__ = ["ResNet", "ResNetConfig", "build_resnet", "summarize"]
