"""Colour and blur ops against naive per-pixel references."""

from __future__ import annotations

import colorsys
import math

import torch

from ssl_engine.augment.blur import gaussian_blur, kernel_size_for
from ssl_engine.augment.color import hsv_to_rgb, rgb_to_hsv


def _naive_blur(image: torch.Tensor, sigma: float, kernel_size: int) -> torch.Tensor:
    """One (C, H, W) image, 2-D Gaussian by explicit loops with reflected borders."""
    c, h, w = image.shape
    r = kernel_size // 2
    weights = [math.exp(-(d * d) / (2 * sigma * sigma)) for d in range(-r, r + 1)]
    total = sum(weights)
    weights = [v / total for v in weights]

    def reflect(i: int, n: int) -> int:
        return -i if i < 0 else (2 * (n - 1) - i if i >= n else i)

    out = torch.zeros_like(image)
    for ch in range(c):
        for y in range(h):
            for x in range(w):
                acc = 0.0
                for dy in range(-r, r + 1):
                    for dx in range(-r, r + 1):
                        pixel = image[ch, reflect(y + dy, h), reflect(x + dx, w)].item()
                        acc += weights[dy + r] * weights[dx + r] * pixel
                out[ch, y, x] = acc
    return out


def test_gaussian_blur_matches_naive_loops_per_sample_sigma() -> None:
    images = torch.rand(2, 3, 9, 7, generator=torch.Generator().manual_seed(1))
    sigmas = torch.tensor([0.5, 1.7])
    blurred = gaussian_blur(images, sigmas, kernel_size=5)
    for i in range(2):
        expected = _naive_blur(images[i], sigmas[i].item(), 5)
        torch.testing.assert_close(blurred[i], expected, atol=1e-5, rtol=0)


def test_kernel_size_is_odd_tenth_of_image() -> None:
    assert kernel_size_for(32) == 3
    assert kernel_size_for(96) == 9
    assert kernel_size_for(224) == 23


def test_hsv_conversion_matches_colorsys() -> None:
    images = torch.rand(1, 3, 4, 5, generator=torch.Generator().manual_seed(2))
    images[0, :, 0, 0] = 0.5  # a grey pixel: hue and saturation 0
    hsv = rgb_to_hsv(images)
    for y in range(4):
        for x in range(5):
            expected = colorsys.rgb_to_hsv(*images[0, :, y, x].tolist())
            torch.testing.assert_close(hsv[0, :, y, x], torch.tensor(expected), atol=1e-5, rtol=0)
    torch.testing.assert_close(hsv_to_rgb(hsv), images, atol=1e-5, rtol=0)
