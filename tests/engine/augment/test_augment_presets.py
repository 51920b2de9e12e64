"""Presets follow their papers and switch blur off for small images."""

from __future__ import annotations

from ssl_engine.augment.presets import byol_configs, crop_flip_config, simclr_config, swav_config


def test_simclr_preset_blurs_only_large_images() -> None:
    assert simclr_config(32).blur_p == 0.0
    assert simclr_config(224).blur_p == 0.5
    assert simclr_config(32).output_size == 32
    assert simclr_config(32).jitter_p == 0.8


def test_byol_views_are_asymmetric() -> None:
    view_1, view_2 = byol_configs(224)
    assert (view_1.blur_p, view_1.solarize_p) == (1.0, 0.0)
    assert (view_2.blur_p, view_2.solarize_p) == (0.1, 0.2)
    for view in (view_1, view_2):
        assert (view.brightness, view.contrast, view.saturation, view.hue) == (0.4, 0.4, 0.2, 0.1)
        assert view.output_size == 224


def test_byol_small_images_have_no_blur() -> None:
    view_1, view_2 = byol_configs(32)
    assert view_1.blur_p == view_2.blur_p == 0.0
    assert view_2.solarize_p == 0.2


def test_crop_flip_preset_has_no_colour_ops() -> None:
    cfg = crop_flip_config(64)
    assert cfg.crop_scale == (0.2, 1.0)
    assert cfg.flip_p == 0.5
    assert not cfg.jitters_colour
    assert cfg.grayscale_p == cfg.blur_p == cfg.solarize_p == 0.0


def test_swav_preset_crops_like_the_papers_full_size_views() -> None:
    cfg = swav_config(32)
    assert cfg.crop_scale == (0.14, 1.0)
    assert cfg.blur_p == 0.0
    assert cfg.jitter_p == simclr_config(32).jitter_p
