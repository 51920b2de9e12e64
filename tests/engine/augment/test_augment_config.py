"""ViewAugmentConfig: SimCLR defaults and argument validation."""

from __future__ import annotations

from typing import Any

import pytest

from ssl_engine.augment import ViewAugmentConfig


def test_defaults_are_simclr_cifar_recipe() -> None:
    cfg = ViewAugmentConfig()
    assert cfg.crop_scale == (0.08, 1.0)
    assert cfg.crop_ratio == pytest.approx((3 / 4, 4 / 3))
    assert (cfg.flip_p, cfg.jitter_p, cfg.grayscale_p) == (0.5, 0.8, 0.2)
    assert (cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue) == (0.4, 0.4, 0.4, 0.1)
    assert (cfg.blur_p, cfg.blur_sigma, cfg.solarize_p) == (0.0, (0.1, 2.0), 0.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"output_size": 0},
        {"crop_scale": (0.0, 1.0)},
        {"crop_scale": (0.5, 0.2)},
        {"crop_scale": (0.5, 1.5)},
        {"crop_ratio": (0.0, 1.0)},
        {"crop_ratio": (2.0, 1.0)},
        {"flip_p": -0.1},
        {"jitter_p": 1.5},
        {"grayscale_p": 2.0},
        {"blur_p": -1.0},
        {"solarize_p": 1.01},
        {"brightness": -0.1},
        {"contrast": float("inf")},
        {"saturation": -1.0},
        {"hue": 0.6},
        {"blur_sigma": (0.0, 1.0)},
        {"blur_sigma": (2.0, 1.0)},
    ],
)
def test_invalid_fields_raise_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ViewAugmentConfig(**kwargs)


def test_config_is_frozen() -> None:
    cfg = ViewAugmentConfig()
    with pytest.raises(AttributeError):
        cfg.flip_p = 0.0  # type: ignore[misc]
