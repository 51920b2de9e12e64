"""Build a method from the names and plain values a job or a model record carries.

The one place where a method name, a backbone name and a hyperparameter mapping become
a ``Method``; the worker (training) and the API (validation, serving) both go through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ssl_engine.methods.base import Method
from ssl_engine.methods.registry import METHODS


def build_method(
    name: str, *, backbone: str | None, image_size: int, hyperparameters: Mapping[str, Any]
) -> Method:
    """A freshly initialised method.

    Raises ValueError for an unknown method, a backbone the method does not allow (the
    message lists the allowed ones) or a non-positive image size, and pydantic's
    ValidationError, unchanged, for hyperparameters out of bounds or unknown.
    ``backbone=None`` picks the method's ``default_backbone``.
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known: {sorted(METHODS)}")
    method_class = METHODS[name]
    hparams = method_class.hyperparameters_model.model_validate(dict(hyperparameters))
    backbone = backbone or method_class.default_backbone
    if backbone not in method_class.allowed_backbones:
        raise ValueError(
            f"backbone {backbone!r} is not allowed for {name}; "
            f"allowed: {list(method_class.allowed_backbones)}"
        )
    if image_size < 1:
        raise ValueError(f"image_size must be >= 1, got {image_size}")
    return method_class(backbone=backbone, image_size=image_size, hparams=hparams)
