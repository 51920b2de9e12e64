"""Encoders that map (B, 3, H, W) images in [0, 1] to (B, D) features.

torchvision ResNets (He et al., "Deep Residual Learning for Image Recognition", 2016)
with an optional CIFAR stem: a 3x3 stride-1 first convolution and no max-pool, as in
SimCLR's CIFAR-10 experiments (Chen et al., 2020, appendix B.9). Small images (<= 64
pixels) get that stem automatically. ``tiny_cnn`` exists so tests run in seconds.
Every backbone starts with its input normalisation, so callers send raw [0, 1] pixels.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchvision
from torch import Tensor, nn

from ssl_engine.methods.base import IMAGENET_MEAN, IMAGENET_STD

CIFAR_STEM_MAX_SIZE = 64  # images this small lose too much to a 7x7/2 conv + max-pool


class Normalize(nn.Module):
    """Per-channel (x - mean) / std with the statistics stored as buffers."""

    mean: Tensor  # (1, C, 1, 1)
    std: Tensor  # (1, C, 1, 1)

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


class Backbone(nn.Module):
    """normalise -> trunk -> (B, out_dim) pooled features."""

    def __init__(self, trunk: nn.Module, out_dim: int) -> None:
        super().__init__()
        self.normalize = Normalize(IMAGENET_MEAN, IMAGENET_STD)
        self.trunk = trunk
        self.out_dim = out_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.trunk(self.normalize(x))  # (B, out_dim)


def _resnet(factory: Callable[..., torchvision.models.ResNet], cifar_stem: bool) -> Backbone:
    net = factory(weights=None)  # never downloads: random initialisation only
    if cifar_stem:
        net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    out_dim = net.fc.in_features
    net.fc = nn.Identity()
    return Backbone(net, out_dim)


def _tiny_cnn() -> Backbone:
    """Four conv layers, 64-d output: enough to learn on toy data in a few seconds."""
    trunk = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
        nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    )  # fmt: skip
    return Backbone(trunk, 64)


RESNETS: dict[str, Callable[..., torchvision.models.ResNet]] = {
    "resnet18": torchvision.models.resnet18,
    "resnet34": torchvision.models.resnet34,
    "resnet50": torchvision.models.resnet50,
}
CONV_BACKBONES = ("tiny_cnn", *RESNETS)


def build_backbone(name: str, image_size: int) -> Backbone:
    """A randomly initialised encoder by name; ValueError lists the known names."""
    if name == "tiny_cnn":
        return _tiny_cnn()
    if name in RESNETS:
        return _resnet(RESNETS[name], cifar_stem=image_size <= CIFAR_STEM_MAX_SIZE)
    raise ValueError(f"unknown backbone {name!r}; known: {list(CONV_BACKBONES)}")
