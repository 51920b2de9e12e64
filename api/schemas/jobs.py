"""Job bodies. Method hyperparameters are validated against the method's own model, and
the training options are the user options of the engine's ``TrainConfig``."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from ssl_engine.train_config import USER_OPTION, TrainConfig, UserOption


def _training_options_model() -> type[BaseModel]:
    """The ``TrainConfig`` fields marked as user options, as a strict request model: the
    same types, defaults, bounds and descriptions as the engine declares."""
    hints = get_type_hints(TrainConfig, include_extras=True)
    options: dict[str, Any] = {}
    for config_field in dataclasses.fields(TrainConfig):
        option: UserOption | None = config_field.metadata.get(USER_OPTION)
        if option is None:
            continue
        assert config_field.default is not dataclasses.MISSING  # every option has a default
        field_info = Field(
            config_field.default,
            description=option.description,
            gt=option.gt,
            ge=option.ge,
            le=option.le,
        )
        options[config_field.name] = (hints[config_field.name], field_info)
    return create_model(
        "TrainingOptions",
        __config__=ConfigDict(extra="forbid"),
        __doc__="Optimisation settings shared by all methods; unset values take the "
        "method's defaults.",
        __module__=__name__,
        **options,
    )


if TYPE_CHECKING:  # built at run time: a type checker sees only that it is a model
    TrainingOptions = BaseModel
else:
    TrainingOptions = _training_options_model()


class JobResources(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gpu: bool = Field(
        False,
        description="Train only on a worker with a GPU (it waits for one); by default any "
        "worker takes the job.",
    )


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
    parent_model_id: str | None = Field(
        None,
        max_length=64,
        description="A trained model to start from: its encoder initialises this job's "
        "(heads start fresh). It must have the same backbone (and, for a ViT, image size); "
        "a model of another tenant is a 404.",
    )
    image_size: int | None = Field(
        None, ge=16, le=512, description="Training resolution; default from the dataset."
    )
    epochs: int = Field(10, ge=1, le=10_000)
    batch_size: int = Field(128, ge=2, le=8192)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    training: TrainingOptions = Field(default_factory=TrainingOptions)
    resources: JobResources = Field(default_factory=JobResources)
    max_wall_seconds: int | None = Field(
        None,
        ge=1,
        le=10 * 365 * 24 * 3600,
        description="Running time allowed, summed over attempts; at it the job is "
        "checkpointed and fails with wall_time_exceeded. Default: SSLPT_JOB_WALL_SECONDS "
        "(capped by the server's or the tenant's limit, a 422 above it).",
    )


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
    dataset_deleted: bool = Field(
        description="The dataset was deleted since; the job keeps naming it."
    )
    eval_dataset_id: str | None
    backbone: str
    parent_model_id: str | None = Field(
        description="The model the job starts from; null: from scratch (or it was deleted "
        "after the job finished)."
    )
    image_size: int
    epochs: int
    batch_size: int
    seed: int
    hyperparameters: dict[str, Any]
    training: dict[str, Any]
    resources: JobResources
    status: str
    attempts: int
    progress: Progress
    latest_metrics: dict[str, float]
    failure_reason: str | None
    wall_seconds: float = Field(description="Running time so far, summed over attempts.")
    max_wall_seconds: int | None = Field(description="Running time allowed; null: no limit.")
    model_id: str | None
    stored_bytes: int = Field(
        description="Bytes its checkpoints and pictures take on disk (its model counts on "
        "the model)."
    )
    pictures: list[int] = Field(
        description="Epochs (0-based) with a picture at GET /v1/jobs/{id}/samples/{epoch}: "
        "samples or reconstructions, for methods that make images."
    )
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
