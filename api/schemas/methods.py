"""What GET /v1/methods says about each registered method."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class OptimizerDefaultsOut(BaseModel):
    """The method's training recipe; each value can be overridden in a job's ``training``."""

    name: str
    lr: float = Field(description="Per 256 images; scaled by batch / 256.")
    weight_decay: float
    momentum: float = Field(description="SGD and LARS momentum.")
    trust_coefficient: float = Field(description="LARS eta.")
    clip_lr: bool = Field(description="LARS: each layer's rate capped at the scheduled lr.")
    betas: tuple[float, float] = Field(description="AdamW (beta1, beta2).")
    warmup_fraction: float = Field(description="Share of the run spent warming up.")
    source: str = Field(description="Where the values come from, and why where they differ.")


class MethodOut(BaseModel):
    name: str
    family: str
    collapse_prevention: str
    summary: str
    paper: str
    allowed_backbones: list[str]
    default_backbone: str
    parent_role: str = Field(
        description="warm_start: a job may name a parent model, whose encoder it starts "
        "from; teacher: a job must name one, whose features make its targets."
    )
    generates: bool = Field(description="GET /v1/models/{id}/samples draws images from it.")
    reconstructs: bool = Field(description="POST /v1/models/{id}/reconstruct shows its work.")
    optimizer_defaults: OptimizerDefaultsOut
    hyperparameters_schema: dict[str, Any]
