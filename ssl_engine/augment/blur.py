"""Gaussian blur with a different sigma per sample, as two depthwise 1-D convolutions.

SimCLR (Chen et al., 2020, appendix A) blurs with sigma uniform in [0.1, 2.0] and a
kernel 10% of the image side; BYOL (Grill et al., 2020) uses the same sigma range with
a 23x23 kernel at 224 px, which the 10% rule also gives.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

KERNEL_FRACTION = 0.1  # kernel side as a fraction of the image side (SimCLR)


def kernel_size_for(image_size: int) -> int:
    """The odd kernel side for ``image_size`` pixels: 10% of it, at least 3."""
    size = max(3, int(KERNEL_FRACTION * image_size))
    return size if size % 2 == 1 else size + 1


def gaussian_kernels(sigma: Tensor, kernel_size: int) -> Tensor:
    """(B,) sigmas -> (B, K) normalised 1-D Gaussian kernels."""
    radius = kernel_size // 2
    offsets = torch.arange(-radius, radius + 1, device=sigma.device, dtype=sigma.dtype)  # (K,)
    weights = torch.exp(-(offsets**2) / (2 * sigma.view(-1, 1) ** 2))  # (B, K)
    return weights / weights.sum(dim=1, keepdim=True)


def gaussian_blur(images: Tensor, sigma: Tensor, kernel_size: int) -> Tensor:
    """(B, C, H, W) images, (B,) sigmas -> (B, C, H, W), reflect-padded at the borders."""
    b, c, h, w = images.shape
    radius = kernel_size // 2
    kernels = gaussian_kernels(sigma.to(images.dtype), kernel_size)  # (B, K)
    kernels = kernels.repeat_interleave(c, dim=0)  # (B * C, K): one kernel per channel
    # Reflection needs the pad to be smaller than the image; tiny images replicate.
    mode = "reflect" if radius < min(h, w) else "replicate"
    # Fold the batch into channels so one grouped convolution blurs every sample.
    x = images.reshape(1, b * c, h, w)  # (1, B * C, H, W)
    x = F.pad(x, (radius, radius, 0, 0), mode=mode)
    x = F.conv2d(x, kernels.view(b * c, 1, 1, kernel_size), groups=b * c)  # rows
    x = F.pad(x, (0, 0, radius, radius), mode=mode)
    x = F.conv2d(x, kernels.view(b * c, 1, kernel_size, 1), groups=b * c)  # columns
    return x.view(b, c, h, w)
