"""A convolutional encoder and a mirror-image decoder, for the autoencoding methods.

Each encoder stage halves the resolution with a 4x4 stride-2 convolution, BatchNorm and
ReLU; each decoder stage doubles it with the transposed convolution, the layout of
DCGAN (Radford et al., 2016) that most convolutional autoencoders on CIFAR use. Three
stages take a 32 px image to a 4 x 4 map. The decoder returns logits: the denoising
autoencoder squashes them with a sigmoid, the VAE scores them as Bernoulli logits.
"""

from __future__ import annotations

from itertools import pairwise

from torch import Tensor, nn

from ssl_engine.backbones import Normalize
from ssl_engine.methods.base import IMAGENET_MEAN, IMAGENET_STD

CONV_AUTOENCODER_WIDTHS: dict[str, tuple[int, ...]] = {
    "conv_small": (32, 64, 128),
    "conv_base": (64, 128, 256),
}


def conv_widths(name: str, image_size: int) -> tuple[int, ...]:
    """Channel widths of a named conv autoencoder; checks the image halves cleanly."""
    if name not in CONV_AUTOENCODER_WIDTHS:
        raise ValueError(
            f"unknown conv autoencoder {name!r}; known: {list(CONV_AUTOENCODER_WIDTHS)}"
        )
    widths = CONV_AUTOENCODER_WIDTHS[name]
    if image_size % 2 ** len(widths):
        raise ValueError(f"image_size must be divisible by {2 ** len(widths)}, got {image_size}")
    return widths


class ConvEncoder(nn.Module):
    """(B, 3, H, W) in [0, 1] -> (B, C, H / 2^S, W / 2^S) feature map, C = widths[-1]."""

    def __init__(self, widths: tuple[int, ...]) -> None:
        super().__init__()
        self.normalize = Normalize(IMAGENET_MEAN, IMAGENET_STD)
        layers: list[nn.Module] = []
        in_channels = 3
        for width in widths:
            layers += [
                nn.Conv2d(in_channels, width, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            in_channels = width
        self.stages = nn.Sequential(*layers)
        self.out_channels = widths[-1]
        self.downsampling = 2 ** len(widths)

    def forward(self, images: Tensor) -> Tensor:
        return self.stages(self.normalize(images))  # (B, C, H / 2^S, W / 2^S)


class ConvDecoder(nn.Module):
    """(B, widths[-1], h, w) -> (B, 3, h * 2^S, w * 2^S) pixel logits, mirroring the encoder."""

    def __init__(self, widths: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = list(reversed(widths))  # e.g. 128, 64, 32
        for in_channels, out_channels in pairwise(channels):
            layers += [
                nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            ]
        layers.append(nn.ConvTranspose2d(channels[-1], 3, 4, stride=2, padding=1))
        self.stages = nn.Sequential(*layers)

    def forward(self, code: Tensor) -> Tensor:
        return self.stages(code)  # (B, 3, H, W) logits
