"""What GET /v1/methods says about each registered method."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class OptimizerDefaultsOut(BaseModel):
    name: str
    lr: float
    weight_decay: float
    momentum: float


class MethodOut(BaseModel):
    name: str
    family: str
    collapse_prevention: str
    summary: str
    paper: str
    allowed_backbones: list[str]
    default_backbone: str
    optimizer_defaults: OptimizerDefaultsOut
    hyperparameters_schema: dict[str, Any]
