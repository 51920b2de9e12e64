"""Crop boxes stay inside the image and within the configured scale and ratio."""

from __future__ import annotations

import math

import torch

from ssl_engine.augment.geometry import crop_flip_theta, sample_crop_boxes

CPU = torch.device("cpu")


def test_boxes_respect_scale_ratio_and_image_bounds() -> None:
    torch.manual_seed(0)
    height, width = 24, 40
    scale, ratio = (0.1, 0.6), (0.5, 2.0)
    cx, cy, w, h = sample_crop_boxes(2000, height, width, scale, ratio, CPU)
    area = w * h / (height * width)
    assert area.min() >= scale[0] - 1e-5 and area.max() <= scale[1] + 1e-5
    aspect = w / h
    assert aspect.min() >= ratio[0] - 1e-5 and aspect.max() <= ratio[1] + 1e-5
    assert (cx - w / 2).min() >= 0 and (cx + w / 2).max() <= width + 1e-4
    assert (cy - h / 2).min() >= 0 and (cy + h / 2).max() <= height + 1e-4


def test_ratio_is_log_uniform_on_square_images() -> None:
    torch.manual_seed(0)
    _, _, w, h = sample_crop_boxes(4000, 32, 32, (0.08, 0.5), (0.5, 2.0), CPU)
    # Symmetric in log space around 1: as many crops wider than tall as taller than wide.
    assert abs((w > h).float().mean().item() - 0.5) < 0.03


def test_unfittable_crop_falls_back_to_centre_crop_with_clamped_ratio() -> None:
    # A square crop of the whole area cannot fit a 16 x 32 image; fall back to 16 x 16.
    cx, cy, w, h = sample_crop_boxes(4, 16, 32, (1.0, 1.0), (1.0, 1.0), CPU)
    torch.testing.assert_close(w, torch.full((4,), 16.0))
    torch.testing.assert_close(h, torch.full((4,), 16.0))
    torch.testing.assert_close(cx, torch.full((4,), 16.0))
    torch.testing.assert_close(cy, torch.full((4,), 8.0))


def test_theta_of_whole_image_is_identity_and_flip_negates_x() -> None:
    ones = torch.ones(2)
    theta = crop_flip_theta(
        cx=ones * 5,
        cy=ones * 3,
        w=ones * 10,
        h=ones * 6,
        flip=torch.tensor([False, True]),
        height=6,
        width=10,
    )  # (2, 2, 3)
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    torch.testing.assert_close(theta[0], identity)
    torch.testing.assert_close(theta[1], identity * torch.tensor([[-1.0], [1.0]]))
    assert math.isclose(theta[1, 0, 2].item(), 0.0, abs_tol=1e-7)
