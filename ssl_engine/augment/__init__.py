"""Batched, on-device image augmentations with independent random parameters per sample."""

from ssl_engine.augment.config import ViewAugmentConfig
from ssl_engine.augment.two_views import TwoViews
from ssl_engine.augment.view import ViewAugment

__all__ = ["TwoViews", "ViewAugment", "ViewAugmentConfig"]
