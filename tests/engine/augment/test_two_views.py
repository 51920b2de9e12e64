from __future__ import annotations

from dataclasses import replace

import torch

from ssl_engine.augment import TwoViews, ViewAugmentConfig

IDENTITY = ViewAugmentConfig(
    output_size=8, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0, jitter_p=0.0,
    grayscale_p=0.0,
)  # fmt: skip


def test_one_config_gives_two_independent_views_stacked_view_one_first() -> None:
    torch.manual_seed(0)
    images = torch.rand(3, 3, 8, 8)
    views = TwoViews(ViewAugmentConfig(output_size=8))(images)
    assert views.shape == (6, 3, 8, 8)
    assert not torch.allclose(views[:3], views[3:])  # each row draws its own parameters


def test_two_configs_apply_each_to_its_own_half() -> None:
    images = torch.rand(2, 3, 8, 8)
    grey = replace(IDENTITY, grayscale_p=1.0)
    views = TwoViews(IDENTITY, grey)(images)
    torch.testing.assert_close(views[:2], images, atol=1e-5, rtol=0)
    assert torch.allclose(views[2:, 0], views[2:, 1]) and torch.allclose(views[2:, 1], views[2:, 2])
