"""Job bodies. Method hyperparameters are validated against the method's own model."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class TrainingOptions(BaseModel):
    """Optimisation settings shared by all methods; unset values take the method's defaults."""

    model_config = ConfigDict(extra="forbid")

    optimizer: Literal["sgd", "lars", "adamw"] | None = None
    lr: float | None = Field(None, gt=0, le=100, description="Base LR for batch 256.")
    weight_decay: float | None = Field(None, ge=0, le=1)
    warmup_epochs: float = Field(1.0, ge=0, le=1000)
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto", description="auto: bf16 autocast where the device has bf16 kernels."
    )
    channels_last: bool = Field(True, description="NHWC weights (faster convolutions).")
    compile: bool = Field(False, description="torch.compile the networks (slow to start).")
    checkpoint_every_steps: int = Field(0, ge=0, description="0: at every epoch end only.")


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: str = Field(description="A name from GET /v1/methods.")
    dataset_id: str
    eval_dataset_id: str | None = Field(
        None,
        description="A labeled dataset (class sub-folders) for the online kNN, when the "
        "training dataset has no labels or other ones; default: the training dataset's own "
        "held-out split if it is labeled.",
    )
    backbone: str | None = Field(None, description="Default: the method's default backbone.")
    image_size: int | None = Field(
        None, ge=16, le=512, description="Training resolution; default from the dataset."
    )
    epochs: int = Field(10, ge=1, le=10_000)
    batch_size: int = Field(128, ge=2, le=8192)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    training: TrainingOptions = Field(default_factory=TrainingOptions)


class Progress(BaseModel):
    epoch: int
    step: int
    total_steps: int
    fraction: float
    images_per_sec: float | None
    eta_seconds: float | None


class JobOut(BaseModel):
    id: str
    method: str
    dataset_id: str
    eval_dataset_id: str | None
    backbone: str
    image_size: int
    epochs: int
    batch_size: int
    seed: int
    hyperparameters: dict[str, Any]
    training: dict[str, Any]
    status: str
    attempts: int
    progress: Progress
    latest_metrics: dict[str, float]
    failure_reason: str | None
    model_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    from_status: str | None
    to_status: str | None
    reason: str
    created_at: datetime


class MetricPoint(BaseModel):
    step: int
    epoch: int
    value: float


class MetricSeries(BaseModel):
    job_id: str
    series: dict[str, list[MetricPoint]]
