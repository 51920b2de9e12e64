"""The interface every SSL method implements, and the small types around it.

A method is an ``nn.Module`` that owns its encoder, heads, augmentation preset and any
auxiliary state (momentum encoders, queues, prototypes) as submodules or buffers, so
``state_dict()`` captures everything a checkpoint needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor, nn

# ImageNet statistics: the usual normalisation for torchvision backbones.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Family(StrEnum):
    """Architecture axis of the energy view (docs/architecture.md)."""

    JOINT_EMBEDDING = "joint_embedding"
    PREDICTIVE = "predictive"
    LATENT_VARIABLE = "latent_variable"


class CollapsePrevention(StrEnum):
    """How a method keeps the energy from being flat (docs/architecture.md)."""

    CONTRASTIVE = "contrastive"
    REGULARIZED = "regularized"
    ARCHITECTURAL = "architectural"
    CLUSTERING = "clustering"


class ParentRole(StrEnum):
    """What a method does with a parent model a job names (``POST /v1/jobs``)."""

    WARM_START = "warm_start"  # optional; the encoder starts from the parent's weights
    TEACHER = "teacher"  # required; the parent's features make the training targets


class Hyperparameters(BaseModel):
    """Base of every method's hyperparameter model: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class OptimizerDefaults:
    """What a method trains best with when the job does not say otherwise: its recipe.

    ``lr`` is always per 256 images (the trainer scales it by batch / 256); a reference
    written per 128 images (lightly's CIFAR-10 benchmark) is converted, so its 0.06 is
    0.12 here. ``trust_coefficient`` and ``clip_lr`` matter only for LARS, ``betas`` only
    for AdamW, ``momentum`` for SGD and LARS. ``warmup_fraction`` is the share of the run
    spent warming up, so a recipe scales with the run's length (solo-learn's 10 of 1,000
    epochs is 0.01). ``source`` names where the values come from.
    """

    name: str = "sgd"  # "sgd" | "lars" | "adamw"
    lr: float = 0.12
    weight_decay: float = 5e-4
    momentum: float = 0.9
    trust_coefficient: float = 0.02
    clip_lr: bool = True
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_fraction: float = 0.01
    source: str = ""


@dataclass
class Batch:
    """One training batch, already on the training device.

    images: (B, 3, H, W) float32 in [0, 1], un-augmented; the method makes its views.
    indices: (B,) int64 positions in the dataset, for methods that keep per-item state.
    labels: (B,) int64 class ids, or None for unlabeled data (never used for training).
    """

    images: Tensor
    indices: Tensor
    labels: Tensor | None = None


@dataclass
class StepOutput:
    """The loss to minimise and the scalar metrics to log (each loss term by name)."""

    loss: Tensor
    metrics: dict[str, float] = field(default_factory=dict)
    # (B, D) representations of this step's first view, detached; the trainer's collapse
    # monitor reads them. None for methods without a natural embedding per step.
    embeddings: Tensor | None = None


@dataclass
class EpochContext:
    """What a method may use at the start of an epoch (e.g. DeepCluster's k-means).

    iterate_dataset yields (images (B, 3, H, W) in [0, 1] on device, indices (B,)) over
    the whole training set in order, without augmentation.
    """

    epoch: int
    total_epochs: int
    device: torch.device
    dataset_size: int
    iterate_dataset: Callable[[], Iterator[tuple[Tensor, Tensor]]]


class Method(nn.Module):
    """Base class: declares the method's identity; subclasses implement the three calls.

    Subclasses set the class attributes and implement ``training_step``, ``embed`` and
    ``energy``. Hooks ``on_epoch_start`` and ``on_step_end`` are optional.
    """

    name: ClassVar[str]
    family: ClassVar[Family]
    collapse_prevention: ClassVar[CollapsePrevention]
    summary: ClassVar[str]
    paper: ClassVar[str]
    hyperparameters_model: ClassVar[type[Hyperparameters]]
    optimizer_defaults: ClassVar[OptimizerDefaults] = OptimizerDefaults()
    parent_role: ClassVar[ParentRole] = ParentRole.WARM_START
    generates: ClassVar[bool] = False  # draws images from a prior: ``sample``
    reconstructs: ClassVar[bool] = False  # shows what it makes of an input: ``reconstruct``
    # Backbone names this method accepts; the API answers 422 for others.
    allowed_backbones: ClassVar[tuple[str, ...]] = ("tiny_cnn", "resnet18", "resnet34", "resnet50")
    default_backbone: ClassVar[str] = "resnet18"

    embed_dim: int
    input_size: int  # the side of the square images it was built for (set by build_method)

    def training_step(self, batch: Batch) -> StepOutput:
        """Make views of ``batch.images``, compute the loss and its logged terms."""
        raise NotImplementedError

    def embed(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) images in [0, 1] -> (B, embed_dim) representations users get."""
        raise NotImplementedError

    def energy(self, x: Tensor, y: Tensor) -> Tensor:
        """(B, 3, H, W) x and y in [0, 1] -> (B,) energies, low for compatible pairs."""
        raise NotImplementedError

    def sample(self, count: int) -> Tensor:
        """``count`` images drawn from the model's prior: (count, 3, S, S) in [0, 1]
        (methods that set ``generates``)."""
        raise NotImplementedError(f"{type(self).__name__} does not generate images")

    def reconstruct(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 3, S, S) images in [0, 1] -> what the model is given (masked, noisy or as
        is) and what it makes of it, both (B, 3, S, S) in [0, 1] (methods that set
        ``reconstructs``)."""
        raise NotImplementedError(f"{type(self).__name__} does not reconstruct images")

    def encoder_module(self) -> nn.Module:
        """The trunk ``embed`` runs (its ``backbone``, else its ``encoder``): what exports ship.

        ``embed`` may add a little on top (pooling, a posterior layer); exports that need
        exactly ``embed`` trace it instead. Override when the trunk has another name.
        """
        for name in ("backbone", "encoder"):
            module = getattr(self, name, None)
            if isinstance(module, nn.Module):
                return module
        raise NotImplementedError(f"{type(self).__name__} has no backbone or encoder submodule")

    def start_from_parent(self, parent: Method) -> None:
        """Called before training when the job names a parent model (a trained method).

        By default the parent's encoder weights go into ``encoder_module()``, strictly
        (a warm start); methods that keep a momentum copy of the encoder restart it from
        the same weights, and a method whose ``parent_role`` is ``TEACHER`` keeps the
        parent aside to label the data instead.
        """
        self.encoder_module().load_state_dict(parent.encoder_module().state_dict(), strict=True)

    def on_epoch_start(self, context: EpochContext) -> None:
        """Called before each epoch; default does nothing."""

    def on_step_end(self, progress: float) -> None:
        """Called after each optimizer step with progress in [0, 1] (for EMA schedules)."""
