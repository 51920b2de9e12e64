"""``ViewAugment``: one random view per image, for a whole batch on its own device.

The pipeline is SimCLR's (Chen et al., 2020, appendix A), extended by BYOL's
solarisation (Grill et al., 2020, appendix B), in this order:

1. random resized crop + horizontal flip, one affine warp per batch (``geometry``);
2. colour jitter with probability ``jitter_p``: brightness, contrast, saturation and hue
   in a random order. torchvision draws that order per image; here it is drawn once per
   batch (one ``randperm`` on the CPU) so each op runs once over the whole batch;
3. grayscale with probability ``grayscale_p``;
4. Gaussian blur with probability ``blur_p`` and sigma uniform in ``blur_sigma``;
5. solarisation with probability ``solarize_p``.

Every probability, factor, box and sigma is drawn independently per sample from the
global torch RNG of the input's device, so ``torch.manual_seed`` makes views
reproducible and checkpointing the RNG state makes resumed runs exact. An op whose
probability (or strength) is zero is skipped entirely and consumes no random numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn

from ssl_engine.augment import blur, color, geometry
from ssl_engine.augment.config import ViewAugmentConfig


def _coin(batch: int, p: float, device: torch.device) -> Tensor:
    """(B,) bool: True with probability p, independently per sample."""
    return torch.rand(batch, device=device) < p


def _where(mask: Tensor, changed: Tensor, original: Tensor) -> Tensor:
    """Per-sample choice between two (B, C, H, W) batches by a (B,) mask."""
    return torch.where(mask.view(-1, 1, 1, 1), changed, original)


class ViewAugment(nn.Module):
    """(B, 3, H, W) float images in [0, 1] -> (B, 3, S, S) random views in [0, 1].

    Has no parameters or buffers; each call draws fresh random parameters per sample.
    """

    def __init__(self, config: ViewAugmentConfig) -> None:
        super().__init__()
        self.config = config
        self.blur_kernel_size = blur.kernel_size_for(config.output_size)

    def extra_repr(self) -> str:
        return repr(self.config)

    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected (B, 3, H, W) images, got shape {tuple(images.shape)}")
        if not images.is_floating_point():
            raise ValueError(f"expected float images in [0, 1], got dtype {images.dtype}")
        # Pixel arithmetic stays in float32 even when the caller trains under autocast.
        with torch.autocast(images.device.type, enabled=False):
            return self._augment(images.float())

    def _augment(self, images: Tensor) -> Tensor:
        cfg = self.config
        x = self._crop_and_flip(images)  # (B, 3, S, S)
        if cfg.jitters_colour:
            x = _where(self._coin(x, cfg.jitter_p), self._jitter(x), x)
        if cfg.grayscale_p > 0:
            x = _where(self._coin(x, cfg.grayscale_p), color.grayscale(x), x)
        if cfg.blur_p > 0:
            sigma = geometry.uniform((x.shape[0],), *cfg.blur_sigma, x.device)  # (B,)
            blurred = blur.gaussian_blur(x, sigma, self.blur_kernel_size)
            x = _where(self._coin(x, cfg.blur_p), blurred, x)
        if cfg.solarize_p > 0:
            x = _where(self._coin(x, cfg.solarize_p), color.solarize(x), x)
        return x.clamp(0, 1)

    def _coin(self, x: Tensor, p: float) -> Tensor:
        return _coin(x.shape[0], p, x.device)

    def _crop_and_flip(self, images: Tensor) -> Tensor:
        cfg = self.config
        b, _, h, w = images.shape
        cx, cy, box_w, box_h = geometry.sample_crop_boxes(
            b, h, w, cfg.crop_scale, cfg.crop_ratio, images.device
        )  # each (B,)
        if cfg.flip_p > 0:
            flip = _coin(b, cfg.flip_p, images.device)  # (B,)
        else:
            flip = torch.zeros(b, dtype=torch.bool, device=images.device)
        theta = geometry.crop_flip_theta(cx, cy, box_w, box_h, flip, h, w)  # (B, 2, 3)
        return geometry.warp(images, theta, cfg.output_size)

    def _jitter(self, x: Tensor) -> Tensor:
        """All enabled jitter ops in one random order, each with per-sample factors."""
        cfg = self.config
        b, device = x.shape[0], x.device
        ops: list[Callable[[Tensor], Tensor]] = []
        for strength, adjust in (
            (cfg.brightness, color.adjust_brightness),
            (cfg.contrast, color.adjust_contrast),
            (cfg.saturation, color.adjust_saturation),
        ):
            if strength > 0:
                factor = geometry.uniform((b,), max(0.0, 1 - strength), 1 + strength, device)
                ops.append(partial(adjust, factor=factor))
        if cfg.hue > 0:
            shift = geometry.uniform((b,), -cfg.hue, cfg.hue, device)  # (B,)
            ops.append(partial(color.adjust_hue, shift=shift))
        for i in torch.randperm(len(ops)).tolist():
            x = ops[i](x)
        return x
