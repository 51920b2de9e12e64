"""Random resized crop + horizontal flip for a whole batch as one affine warp.

The crop is sampled the way torchvision's ``RandomResizedCrop`` samples it (Szegedy et
al., "Going Deeper with Convolutions", 2015, the "Inception crop" SimCLR and BYOL use):
an area fraction uniform in ``scale`` and an aspect ratio log-uniform in ``ratio``,
retried up to ten times until the crop fits, else a centre crop of the whole image with
the ratio clamped into range. Unlike torchvision the crop box is not rounded to whole
pixels; bilinear sampling handles fractional boxes. Each sample gets its own box and
flip, and ``grid_sample`` resamples all of them in one call.

Sampling is bilinear without antialiasing, so views much smaller than their crop alias;
the data cache already resizes images to the training size, so crops are rarely larger
than the output.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

CROP_ATTEMPTS = 10  # torchvision's number of tries before the centre-crop fallback


def uniform(shape: tuple[int, ...], low: float, high: float, device: torch.device) -> Tensor:
    """Samples uniform in [low, high) from the global RNG of ``device``."""
    return torch.rand(shape, device=device) * (high - low) + low


def sample_crop_boxes(
    batch: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    device: torch.device,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Per-sample crop boxes in pixels: centres (cx, cy) and sizes (w, h), each (B,)."""
    area = float(height * width)
    fraction = uniform((batch, CROP_ATTEMPTS), scale[0], scale[1], device)  # (B, T)
    log_ratio = uniform((batch, CROP_ATTEMPTS), math.log(ratio[0]), math.log(ratio[1]), device)
    aspect = torch.exp(log_ratio)  # (B, T) width / height
    w = torch.sqrt(fraction * area * aspect)  # (B, T)
    h = torch.sqrt(fraction * area / aspect)  # (B, T)
    fits = (w <= width) & (h <= height)  # (B, T)

    # The first attempt that fits (argmax returns the first maximum); no host sync.
    first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)  # (B, 1)
    w = w.gather(1, first).squeeze(1)  # (B,)
    h = h.gather(1, first).squeeze(1)  # (B,)
    fallback_w, fallback_h = _fallback_size(height, width, ratio)
    any_fit = fits.any(dim=1)  # (B,)
    w = torch.where(any_fit, w, torch.full_like(w, fallback_w))  # (B,)
    h = torch.where(any_fit, h, torch.full_like(h, fallback_h))  # (B,)

    # Centre uniform over the positions where the box stays inside the image; the
    # fallback box is centred.
    position = torch.where(any_fit.unsqueeze(1), torch.rand(batch, 2, device=device), 0.5)
    cx = w / 2 + position[:, 0] * (width - w)  # (B,)
    cy = h / 2 + position[:, 1] * (height - h)  # (B,)
    return cx, cy, w, h


def _fallback_size(height: int, width: int, ratio: tuple[float, float]) -> tuple[float, float]:
    """The largest centred box with its aspect ratio clamped into ``ratio``."""
    image_ratio = width / height
    if image_ratio < ratio[0]:
        return float(width), width / ratio[0]
    if image_ratio > ratio[1]:
        return height * ratio[1], float(height)
    return float(width), float(height)


def crop_flip_theta(
    cx: Tensor, cy: Tensor, w: Tensor, h: Tensor, flip: Tensor, height: int, width: int
) -> Tensor:
    """(B, 2, 3) affine matrices mapping output coordinates to input, in [-1, 1] units.

    ``flip`` is a (B,) bool mask; a flipped sample reads its crop right to left.
    """
    sign = 1.0 - 2.0 * flip.to(w.dtype)  # (B,) -1 where flipped
    theta = torch.zeros(cx.shape[0], 2, 3, device=cx.device, dtype=cx.dtype)  # (B, 2, 3)
    theta[:, 0, 0] = sign * w / width
    theta[:, 0, 2] = 2 * cx / width - 1
    theta[:, 1, 1] = h / height
    theta[:, 1, 2] = 2 * cy / height - 1
    return theta


def warp(images: Tensor, theta: Tensor, output_size: int) -> Tensor:
    """(B, C, H, W) images, (B, 2, 3) theta -> (B, C, S, S) bilinear resamples."""
    b, c = images.shape[:2]
    grid = F.affine_grid(theta, [b, c, output_size, output_size], align_corners=False)
    # (B, S, S, 2) sampling positions; all lie inside the image, "border" only guards
    # against rounding at the edges.
    return F.grid_sample(
        images, grid, mode="bilinear", padding_mode="border", align_corners=False
    )  # (B, C, S, S)
