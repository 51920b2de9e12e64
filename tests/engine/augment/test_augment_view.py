"""ViewAugment: shapes, per-sample randomness, seeding, and each op's on/off switch."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import torch
from torch import Tensor

from ssl_engine.augment import ViewAugment, ViewAugmentConfig
from ssl_engine.augment.color import rgb_to_hsv

SIZE = 16

# Every op off and the crop pinned to the whole (square) image: the identity pipeline.
IDENTITY = ViewAugmentConfig(
    output_size=SIZE,
    crop_scale=(1.0, 1.0),
    crop_ratio=(1.0, 1.0),
    flip_p=0.0,
    jitter_p=0.0,
    grayscale_p=0.0,
    blur_p=0.0,
    solarize_p=0.0,
)


def _images(batch: int = 6, size: int = SIZE, low: float = 0.0, high: float = 1.0) -> Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.rand(batch, 3, size, size, generator=generator) * (high - low) + low


def test_output_shape_dtype_and_range() -> None:
    cfg = ViewAugmentConfig(output_size=12, blur_p=0.5, solarize_p=0.5)
    images = torch.rand(5, 3, 20, 28)
    views = ViewAugment(cfg)(images)
    assert views.shape == (5, 3, 12, 12)
    assert views.dtype == torch.float32
    assert views.min() >= 0.0 and views.max() <= 1.0


def test_rejects_non_image_batches() -> None:
    aug = ViewAugment(IDENTITY)
    with pytest.raises(ValueError, match="B, 3, H, W"):
        aug(torch.rand(3, SIZE, SIZE))
    with pytest.raises(ValueError, match="float"):
        aug(torch.zeros(2, 3, SIZE, SIZE, dtype=torch.uint8))


def test_whole_image_crop_without_other_ops_is_identity() -> None:
    images = _images()
    torch.testing.assert_close(ViewAugment(IDENTITY)(images), images, atol=1e-5, rtol=0)


def test_flip_with_probability_one_mirrors_every_image() -> None:
    images = _images()
    views = ViewAugment(replace(IDENTITY, flip_p=1.0))(images)
    torch.testing.assert_close(views, images.flip(-1), atol=1e-5, rtol=0)


def test_copies_of_one_image_get_different_crops() -> None:
    batch = _images(batch=1).expand(8, -1, -1, -1)
    cfg = replace(IDENTITY, crop_scale=(0.08, 1.0), crop_ratio=(3 / 4, 4 / 3))
    torch.manual_seed(0)
    views = ViewAugment(cfg)(batch).flatten(1)  # (8, 3 * S * S)
    distances = torch.cdist(views, views)  # (8, 8)
    off_diagonal = distances[~torch.eye(8, dtype=torch.bool)]
    assert off_diagonal.min() > 1e-3


def test_same_seed_same_views_different_seed_different_views() -> None:
    aug = ViewAugment(ViewAugmentConfig(output_size=SIZE, blur_p=0.5, solarize_p=0.5))
    images = _images()
    torch.manual_seed(7)
    first = aug(images)
    torch.manual_seed(7)
    second = aug(images)
    torch.manual_seed(8)
    third = aug(images)
    torch.testing.assert_close(first, second, atol=0, rtol=0)
    assert not torch.allclose(first, third)


def test_each_call_draws_new_parameters() -> None:
    aug = ViewAugment(ViewAugmentConfig(output_size=SIZE))
    images = _images()
    assert not torch.allclose(aug(images), aug(images))


def test_grayscale_probability_one_gives_equal_channels() -> None:
    views = ViewAugment(replace(IDENTITY, grayscale_p=1.0))(_images())
    torch.testing.assert_close(views[:, 0], views[:, 1], atol=0, rtol=0)
    torch.testing.assert_close(views[:, 1], views[:, 2], atol=0, rtol=0)


def test_brightness_only_jitter_scales_mean_within_strength() -> None:
    strength = 0.3
    cfg = replace(IDENTITY, jitter_p=1.0, brightness=strength, contrast=0, saturation=0, hue=0)
    images = _images(batch=32, low=0.05, high=0.6)  # never reaches 1 even when brightened
    views = ViewAugment(cfg)(images)
    ratio = views.mean(dim=(1, 2, 3)) / images.mean(dim=(1, 2, 3))  # (B,)
    assert ratio.min() >= 1 - strength - 1e-5
    assert ratio.max() <= 1 + strength + 1e-5
    assert ratio.std() > 0.05  # one factor per sample, not one per batch


def test_contrast_only_jitter_scales_spread_of_grey_images_within_strength() -> None:
    strength = 0.5
    cfg = replace(IDENTITY, jitter_p=1.0, brightness=0, contrast=strength, saturation=0, hue=0)
    grey = _images(batch=16, low=0.3, high=0.7)[:, :1].expand(-1, 3, -1, -1)
    views = ViewAugment(cfg)(grey)
    ratio = views.std(dim=(1, 2, 3)) / grey.std(dim=(1, 2, 3))  # (B,)
    assert ratio.min() >= 1 - strength - 1e-4
    assert ratio.max() <= 1 + strength + 1e-4


def test_hue_only_jitter_shifts_hue_within_strength() -> None:
    strength = 0.1
    cfg = replace(IDENTITY, jitter_p=1.0, brightness=0, contrast=0, saturation=0, hue=strength)
    images = _images(batch=16, low=0.1, high=0.9)
    hsv_in, hsv_out = rgb_to_hsv(images), rgb_to_hsv(ViewAugment(cfg)(images))
    shift = torch.remainder(hsv_out[:, 0] - hsv_in[:, 0] + 0.5, 1.0) - 0.5  # (B, H, W)
    assert shift.abs().max() <= strength + 1e-4
    per_image = shift.mean(dim=(1, 2))  # (B,) one shift per sample
    torch.testing.assert_close(shift, per_image.view(-1, 1, 1).expand_as(shift), atol=1e-3, rtol=0)
    assert per_image.std() > 0.01


def test_solarize_probability_one_inverts_bright_pixels() -> None:
    images = _images()
    views = ViewAugment(replace(IDENTITY, solarize_p=1.0))(images)
    expected = torch.where(images >= 0.5, 1 - images, images)
    torch.testing.assert_close(views, expected, atol=1e-5, rtol=0)


def test_blur_probability_one_smooths_and_keeps_constant_images() -> None:
    cfg = replace(IDENTITY, blur_p=1.0, blur_sigma=(1.0, 2.0))
    images = _images()
    views = ViewAugment(cfg)(images)
    assert views.diff(dim=-1).abs().mean() < 0.7 * images.diff(dim=-1).abs().mean()
    flat = torch.full((2, 3, SIZE, SIZE), 0.25)
    torch.testing.assert_close(ViewAugment(cfg)(flat), flat, atol=1e-6, rtol=0)


# Each op with its strength on but its probability at zero must leave images untouched.
SWITCHED_OFF: list[dict[str, Any]] = [
    {"flip_p": 0.0},
    {"jitter_p": 0.0, "brightness": 0.8, "contrast": 0.8, "saturation": 0.8, "hue": 0.5},
    {"grayscale_p": 0.0},
    {"blur_p": 0.0, "blur_sigma": (1.0, 2.0)},
    {"solarize_p": 0.0},
]


@pytest.mark.parametrize("off", SWITCHED_OFF)
def test_op_with_probability_zero_does_nothing(off: dict[str, Any]) -> None:
    images = _images()
    views = ViewAugment(replace(IDENTITY, **off))(images)
    torch.testing.assert_close(views, images, atol=1e-5, rtol=0)


@pytest.mark.parametrize("off", SWITCHED_OFF)
def test_op_with_probability_one_changes_images(off: dict[str, Any]) -> None:
    p_name = next(name for name in off if name.endswith("_p"))
    images = _images()
    views = ViewAugment(replace(IDENTITY, **{**off, p_name: 1.0}))(images)
    assert (views - images).abs().amax(dim=(1, 2, 3)).min() > 1e-3  # every sample changed


def test_views_stay_float32_under_autocast() -> None:
    aug = ViewAugment(ViewAugmentConfig(output_size=SIZE, blur_p=1.0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        views = aug(_images())
    assert views.dtype == torch.float32
