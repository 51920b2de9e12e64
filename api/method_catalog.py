"""The registry as the API sees it: descriptions for GET /v1/methods and job validation.

ssl_engine (and so torch) is imported on first use, not when the API module loads.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from api.errors import field_errors, validation_error
from api.schemas.methods import MethodOut, OptimizerDefaultsOut

if TYPE_CHECKING:
    from ssl_engine.methods.base import Method


def _registry() -> dict[str, type[Method]]:
    from ssl_engine.methods.registry import METHODS

    return METHODS


@lru_cache
def describe_methods() -> tuple[MethodOut, ...]:
    return tuple(
        MethodOut(
            name=name,
            family=str(cls.family),
            collapse_prevention=str(cls.collapse_prevention),
            summary=cls.summary,
            paper=cls.paper,
            allowed_backbones=list(cls.allowed_backbones),
            default_backbone=cls.default_backbone,
            parent_role=str(cls.parent_role),
            generates=cls.generates,
            reconstructs=cls.reconstructs,
            optimizer_defaults=OptimizerDefaultsOut(**asdict(cls.optimizer_defaults)),
            hyperparameters_schema=cls.hyperparameters_model.model_json_schema(),
        )
        for name, cls in _registry().items()
    )


def method_class(name: str) -> type[Method]:
    methods = _registry()
    if name not in methods:
        raise validation_error(
            [{"field": "method", "message": f"unknown method {name!r}; one of {sorted(methods)}"}]
        )
    return methods[name]


def validate_method_options(
    name: str, backbone: str | None, hyperparameters: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The backbone to use and the hyperparameters with defaults filled in, or a 422."""
    cls = method_class(name)
    chosen = backbone or cls.default_backbone
    if chosen not in cls.allowed_backbones:
        allowed = ", ".join(cls.allowed_backbones)
        raise validation_error(
            [{"field": "backbone", "message": f"{name} accepts backbones: {allowed}"}]
        )
    try:
        parsed = cls.hyperparameters_model.model_validate(hyperparameters)
    except ValidationError as error:
        raise validation_error(
            field_errors(list(error.errors()), prefix=("hyperparameters",))
        ) from error
    return chosen, parsed.model_dump(mode="json")
