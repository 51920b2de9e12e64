"""How to train: one run's settings, and which of them a job's submitter may set.

The fields marked with ``user_option`` are the job's training options: the API derives
its request schema from them (with the description and bounds kept here) and the worker
builds the config from what the API stored. No torch here, so the API imports it freely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Annotated, Literal, get_args

from pydantic import Field, TypeAdapter

Optimizer = Literal["sgd", "lars", "adamw"]
Precision = Literal["auto", "bf16", "fp32"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
# AdamW's (beta1, beta2), each in [0, 1)
Beta = Annotated[float, Field(ge=0, lt=1)]
Betas = tuple[Beta, Beta]

USER_OPTION = "user_option"  # the metadata key of a field a job's submitter may set


@dataclass(frozen=True)
class UserOption:
    """How a training option is described and bounded to a job's submitter."""

    description: str | None = None
    gt: float | None = None  # bounds, as pydantic's Field takes them; None: unbounded
    ge: float | None = None
    le: float | None = None


def user_option(
    description: str | None = None,
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
) -> dict[str, UserOption]:
    """The ``metadata`` of a dataclass field that job submitters may set."""
    return {USER_OPTION: UserOption(description, gt=gt, ge=ge, le=le)}


@dataclass(frozen=True)
class TrainConfig:
    """How to train; None fields fall back to the method's ``optimizer_defaults``."""

    epochs: int
    batch_size: int
    seed: int = 0
    optimizer: Optimizer | None = field(default=None, metadata=user_option())
    # the base lr is scaled by batch_size / 256
    lr: float | None = field(
        default=None,
        metadata=user_option("Base LR per 256 images (scaled by batch / 256).", gt=0, le=100),
    )
    weight_decay: float | None = field(default=None, metadata=user_option(ge=0, le=1))
    momentum: float | None = field(
        default=None, metadata=user_option("SGD and LARS momentum.", ge=0, le=0.999)
    )
    trust_coefficient: float | None = field(
        default=None,
        metadata=user_option("LARS eta: a layer's step as a fraction of |w|.", gt=0, le=1),
    )
    clip_lr: bool | None = field(
        default=None, metadata=user_option("LARS: cap each layer's rate at the scheduled lr.")
    )
    betas: Betas | None = field(default=None, metadata=user_option("AdamW (beta1, beta2)."))
    # Warm-up: a share of the run (the method's recipe by default), or, as jobs stored
    # before warm-up scaled with the run say, a number of epochs; at most the whole run.
    warmup_fraction: float | None = field(
        default=None, metadata=user_option("Share of the run spent warming up.", ge=0, le=1)
    )
    warmup_epochs: float | None = field(
        default=None,
        metadata=user_option("Warm-up in epochs; overrides warmup_fraction.", ge=0, le=1000),
    )
    # Speed switches; what "auto" picks per device, and the measurements behind each
    # default, are in ssl_engine.acceleration.
    precision: Precision = field(
        default="auto",
        metadata=user_option("auto: bf16 autocast where the device has bf16 kernels."),
    )
    # faster convolutions on CPU and CUDA
    channels_last: bool = field(
        default=True, metadata=user_option("NHWC weights (faster convolutions).")
    )
    # torch.compile the method's networks; opt-in
    compile: bool = field(
        default=False, metadata=user_option("torch.compile the networks (slow to start).")
    )
    log_every_steps: int = 10
    # a checkpoint is always written at a stop and at the end too
    checkpoint_every_steps: int = field(
        default=0, metadata=user_option("0: at every epoch end only.", ge=0)
    )
    collapse_every_steps: int = 50  # 0: never measure collapse
    checkpoints_kept: int = 2  # the newest checkpoints kept while training
    # after success the published weights are the result; the checkpoints go unless kept
    keep_checkpoints: bool = field(
        default=False,
        metadata=user_option("Keep the training checkpoints after the job succeeds."),
    )

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if (self.warmup_epochs or 0) < 0 or not 0 <= (self.warmup_fraction or 0) <= 1:
            raise ValueError("warmup_epochs must be >= 0 and warmup_fraction in [0, 1]")
        if self.log_every_steps < 1:
            raise ValueError("log_every_steps must be >= 1")
        if self.checkpoint_every_steps < 0 or self.collapse_every_steps < 0:
            raise ValueError("checkpoint_every_steps and collapse_every_steps must be >= 0")
        if self.checkpoints_kept < 1:
            raise ValueError("checkpoints_kept must be >= 1")

    @classmethod
    def with_options(
        cls,
        options: Mapping[str, object],
        *,
        epochs: int,
        batch_size: int,
        seed: int = 0,
        log_every_steps: int = 10,
        checkpoints_kept: int = 2,
    ) -> TrainConfig:
        """The config of a job: its stored training ``options`` (by field name) on top of
        the run's own settings. Each value is checked against its field's type; a name
        that is not a user option, or a bad value, raises ValueError."""
        unknown = sorted(set(options) - set(USER_OPTIONS))
        if unknown:
            raise ValueError(f"unknown training options {unknown}; known: {list(USER_OPTIONS)}")
        values = {
            **options,
            "epochs": epochs,
            "batch_size": batch_size,
            "seed": seed,
            "log_every_steps": log_every_steps,
            "checkpoints_kept": checkpoints_kept,
        }
        return _validator().validate_python(values)


# The names of the fields a job's submitter may set, in declaration order.
USER_OPTIONS: tuple[str, ...] = tuple(
    f.name for f in fields(TrainConfig) if USER_OPTION in f.metadata
)


@cache
def _validator() -> TypeAdapter[TrainConfig]:
    return TypeAdapter(TrainConfig)
