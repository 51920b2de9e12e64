"""Colour operations with one parameter per sample, on (B, 3, H, W) images in [0, 1].

They follow the definitions of torchvision's ``ColorJitter`` (which SimCLR's recipe,
Chen et al. 2020 appendix A, is written against): brightness scales the pixels,
contrast blends with the image's mean grey level, saturation blends with the per-pixel
grey image, hue rotates the HSV hue channel. Each result is clamped to [0, 1]. A factor
of 1 (or a hue shift of 0) leaves an image unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor

# ITU-R BT.601 luma weights, the ones PIL and torchvision use for RGB -> L.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
SOLARIZE_THRESHOLD = 0.5  # BYOL (Grill et al., 2020, appendix B): invert pixels >= 0.5


def _per_sample(values: Tensor) -> Tensor:
    """(B,) -> (B, 1, 1, 1), ready to broadcast over an image batch."""
    return values.view(-1, 1, 1, 1)


def to_gray(images: Tensor) -> Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luma."""
    weights = images.new_tensor(LUMA_WEIGHTS).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)  # (B, 1, H, W)


def grayscale(images: Tensor) -> Tensor:
    """(B, 3, H, W) -> (B, 3, H, W) with the luma copied to all three channels."""
    return to_gray(images).expand_as(images)


def adjust_brightness(images: Tensor, factor: Tensor) -> Tensor:
    """Multiply each image by its (B,) factor."""
    return (images * _per_sample(factor)).clamp(0, 1)


def adjust_contrast(images: Tensor, factor: Tensor) -> Tensor:
    """Blend each image with its mean grey level: factor 0 is flat grey."""
    mean = to_gray(images).mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    f = _per_sample(factor)
    return (f * images + (1 - f) * mean).clamp(0, 1)


def adjust_saturation(images: Tensor, factor: Tensor) -> Tensor:
    """Blend each image with its grey version: factor 0 is grayscale."""
    f = _per_sample(factor)
    return (f * images + (1 - f) * to_gray(images)).clamp(0, 1)


def adjust_hue(images: Tensor, shift: Tensor) -> Tensor:
    """Rotate the hue of each image by its (B,) shift, in turns (1 = full circle)."""
    hue, saturation, value = rgb_to_hsv(images).unbind(dim=1)  # each (B, H, W)
    hue = torch.remainder(hue + shift.view(-1, 1, 1), 1.0)
    return hsv_to_rgb(torch.stack((hue, saturation, value), dim=1)).clamp(0, 1)


def solarize(images: Tensor) -> Tensor:
    """Invert the pixels at or above ``SOLARIZE_THRESHOLD``."""
    return torch.where(images >= SOLARIZE_THRESHOLD, 1 - images, images)


def rgb_to_hsv(images: Tensor) -> Tensor:
    """(B, 3, H, W) RGB -> (B, 3, H, W) HSV, every channel in [0, 1]."""
    r, g, b = images.unbind(dim=1)  # each (B, H, W)
    value, argmax = images.max(dim=1)  # (B, H, W)
    chroma = value - images.min(dim=1).values  # (B, H, W)
    safe_chroma = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    saturation = torch.where(value > 0, chroma / torch.where(value > 0, value, 1.0), 0.0)
    # Hue sector in sixths of a turn, from whichever channel is largest.
    hue_red = torch.remainder((g - b) / safe_chroma, 6.0)
    hue_green = (b - r) / safe_chroma + 2.0
    hue_blue = (r - g) / safe_chroma + 4.0
    hue = torch.where(argmax == 0, hue_red, torch.where(argmax == 1, hue_green, hue_blue))
    hue = torch.where(chroma > 0, hue / 6.0, torch.zeros_like(hue))  # grey pixels: hue 0
    return torch.stack((hue, saturation, value), dim=1)


def hsv_to_rgb(images: Tensor) -> Tensor:
    """(B, 3, H, W) HSV -> (B, 3, H, W) RGB, using the closed form per channel.

    Channel n in (R, G, B) = (5, 3, 1): v - v * s * clamp(min(k, 4 - k), 0, 1) with
    k = (n + 6 * hue) mod 6.
    """
    hue, saturation, value = images.unbind(dim=1)  # each (B, H, W)
    n = images.new_tensor((5.0, 3.0, 1.0)).view(1, 3, 1, 1)
    k = torch.remainder(n + 6.0 * hue.unsqueeze(1), 6.0)  # (B, 3, H, W)
    ramp = torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)  # (B, 3, H, W)
    return value.unsqueeze(1) * (1.0 - saturation.unsqueeze(1) * ramp)  # (B, 3, H, W)
