"""The knobs of one augmented view, with SimCLR's CIFAR recipe as the defaults.

Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations"
(SimCLR), 2020, appendix A: random resized crop + flip, colour jitter with probability
0.8, random grayscale with probability 0.2, and Gaussian blur (which their CIFAR-10
runs leave out; it is off here by default because blurring a 32 px image mostly
destroys it and costs throughput).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ViewAugmentConfig:
    """Parameters of ``ViewAugment``; every probability is drawn per sample."""

    output_size: int = 32  # side of the square view; CIFAR's native size
    crop_scale: tuple[float, float] = (0.08, 1.0)  # crop area / image area (SimCLR, A)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)  # crop width / height, sampled in log space
    flip_p: float = 0.5  # horizontal flip
    jitter_p: float = 0.8  # colour jitter as a whole (SimCLR: strength s = 1 -> 0.8 * s)
    brightness: float = 0.4  # factor in [1 - b, 1 + b]
    contrast: float = 0.4  # factor in [1 - c, 1 + c]
    saturation: float = 0.4  # factor in [1 - s, 1 + s]
    hue: float = 0.1  # shift in [-h, h] turns of the colour wheel (SimCLR: 0.2 * s)
    grayscale_p: float = 0.2
    blur_p: float = 0.0  # SimCLR uses 0.5 on ImageNet; off for 32 px images by default
    blur_sigma: tuple[float, float] = (0.1, 2.0)  # pixels, uniform (SimCLR, A)
    solarize_p: float = 0.0  # BYOL's second view uses 0.2 (Grill et al., 2020)

    def __post_init__(self) -> None:
        if self.output_size < 1:
            raise ValueError(f"output_size must be >= 1, got {self.output_size}")
        _check_range("crop_scale", self.crop_scale, low=0.0, high=1.0, open_low=True)
        _check_range("crop_ratio", self.crop_ratio, low=0.0, high=math.inf, open_low=True)
        _check_range("blur_sigma", self.blur_sigma, low=0.0, high=math.inf, open_low=True)
        for name in ("flip_p", "jitter_p", "grayscale_p", "blur_p", "solarize_p"):
            _check_probability(name, getattr(self, name))
        for name in ("brightness", "contrast", "saturation"):
            value = getattr(self, name)
            if not 0.0 <= value < math.inf:
                raise ValueError(f"{name} must be a finite value >= 0, got {value}")
        if not 0.0 <= self.hue <= 0.5:
            raise ValueError(f"hue must be in [0, 0.5] (half a turn), got {self.hue}")

    @property
    def jitters_colour(self) -> bool:
        """Whether any colour-jitter component can change a pixel."""
        strengths = (self.brightness, self.contrast, self.saturation, self.hue)
        return self.jitter_p > 0 and any(s > 0 for s in strengths)


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value}")


def _check_range(
    name: str, bounds: tuple[float, float], *, low: float, high: float, open_low: bool
) -> None:
    if len(bounds) != 2:
        raise ValueError(f"{name} must be a (min, max) pair, got {bounds}")
    lo, hi = bounds
    above_low = lo > low if open_low else lo >= low
    if not (above_low and lo <= hi <= high):
        side = "(" if open_low else "["
        raise ValueError(
            f"{name} must satisfy {side}{low}, ...] with min <= max <= {high}, got {bounds}"
        )
