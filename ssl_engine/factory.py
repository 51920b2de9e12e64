"""Build a method from a recipe: the plain values a job or a model record carries.

The one place where a method name, a backbone name and a hyperparameter mapping become
a ``Method``; the worker (training) and the API (validation, serving) both go through it.
"""

from __future__ import annotations

from ssl_engine.methods.base import Method
from ssl_engine.methods.registry import METHODS
from ssl_engine.recipe import Recipe


def build_method(recipe: Recipe) -> Method:
    """A freshly initialised method.

    Raises ValueError for an unknown method, a backbone the method does not allow (the
    message lists the allowed ones) or a non-positive input size, and pydantic's
    ValidationError, unchanged, for hyperparameters out of bounds or unknown.
    """
    name = recipe.method
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known: {sorted(METHODS)}")
    method_class = METHODS[name]
    hparams = method_class.hyperparameters_model.model_validate(dict(recipe.hyperparameters))
    if recipe.backbone not in method_class.allowed_backbones:
        raise ValueError(
            f"backbone {recipe.backbone!r} is not allowed for {name}; "
            f"allowed: {list(method_class.allowed_backbones)}"
        )
    if recipe.input_size < 1:
        raise ValueError(f"image_size must be >= 1, got {recipe.input_size}")
    method = method_class(backbone=recipe.backbone, image_size=recipe.input_size, hparams=hparams)
    method.input_size = recipe.input_size
    return method
