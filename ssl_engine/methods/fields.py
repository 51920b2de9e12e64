"""Hyperparameter fields that several methods share, with their usual bounds.

Each method still states its own default and description (the paper's value, or why it
differs); only the validation bounds, which are the same everywhere, are written here.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field


def width(default: int | None, description: str, *, le: int = 8192) -> Any:
    """A layer width: a projector's output or hidden size, a predictor's bottleneck."""
    return Field(default, ge=8, le=le, description=description)


def layers(default: int, description: str, *, ge: int = 1) -> Any:
    """How many linear layers a head has."""
    return Field(default, ge=ge, le=4, description=description)


def temperature(default: float, description: str) -> Any:
    """A softmax temperature (or another positive scale of the same range)."""
    return Field(default, gt=0, le=10, description=description)


def momentum(default: float, description: str) -> Any:
    """An exponential-moving-average coefficient in [0, 1]."""
    return Field(default, ge=0, le=1, description=description)


def loss_weight(default: float, description: str) -> Any:
    """The weight of one loss term."""
    return Field(default, ge=0, le=1000, description=description)
