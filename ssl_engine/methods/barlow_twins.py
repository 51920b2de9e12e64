"""Barlow Twins: make the cross-correlation of two views' embeddings the identity.

Zbontar, Jing, Misra, LeCun and Deny, "Barlow Twins: Self-Supervised Learning via
Redundancy Reduction", ICML 2021 (arXiv:2103.03230).

Energy view: E(x, y) is the cosine distance between encoded views. Collapse is prevented
by a regulariser on the batch statistics: the diagonal of the (P, P) cross-correlation is
pulled to 1 (invariance to augmentation) and the off-diagonal to 0 (each feature carries
information the others do not), so a constant embedding cannot be a minimum.

    view 1 -> backbone -> projector -> z1 (B, P) --\
    view 2 -> backbone -> projector -> z2 (B, P) --> C (P, P) -> sum_i (1 - C_ii)^2
                                                                 + lambda sum_{i!=j} C_ij^2
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ssl_engine.augment import TwoViews
from ssl_engine.augment.presets import byol_configs
from ssl_engine.backbones import build_backbone
from ssl_engine.heads import mlp
from ssl_engine.losses.regularized import (
    barlow_invariance_term,
    barlow_redundancy_term,
    cross_correlation,
)
from ssl_engine.methods.base import (
    Batch,
    CollapsePrevention,
    Hyperparameters,
    OptimizerDefaults,
    StepOutput,
)
from ssl_engine.methods.joint_embedding import JointEmbeddingMethod


class BarlowTwinsHyperparameters(Hyperparameters):
    """Barlow Twins' knobs; paper defaults except where marked as CIFAR-scale."""

    redundancy_weight: float = Field(
        5e-3,
        gt=0,
        le=1,
        description="lambda, the weight of the off-diagonal (redundancy) term (paper: 5e-3).",
    )
    projection_dim: int = Field(
        2048,
        ge=8,
        le=16384,
        description=(
            "Output size of the projector. The paper's 8192 is for ResNet-50 on ImageNet; "
            "2048, as in common CIFAR recipes (solo-learn, lightly), fits a ResNet-18."
        ),
    )
    projection_hidden_dim: int = Field(
        2048,
        ge=8,
        le=16384,
        description="Hidden size of the projector (paper: 8192; 2048 at CIFAR scale).",
    )
    projection_layers: int = Field(
        3, ge=1, le=4, description="Linear layers in the projector (paper: 3)."
    )


class BarlowTwins(JointEmbeddingMethod):
    """Backbone + projector; the views' cross-correlation is driven to the identity."""

    name: ClassVar[str] = "barlow_twins"
    collapse_prevention: ClassVar[CollapsePrevention] = CollapsePrevention.REGULARIZED
    summary: ClassVar[str] = (
        "Drives the cross-correlation matrix of two views' embeddings to the identity: "
        "invariant features that are decorrelated from each other."
    )
    paper: ClassVar[str] = (
        "Zbontar, Jing, Misra, LeCun, Deny. Barlow Twins: Self-Supervised Learning via "
        "Redundancy Reduction. ICML 2021. arXiv:2103.03230"
    )
    hyperparameters_model: ClassVar[type[Hyperparameters]] = BarlowTwinsHyperparameters
    # AdamW, not a reference's SGD (lightly: 0.12 per 256, wd 5e-4) or LARS (solo-learn:
    # 0.3 per 256, eta 0.02, clip_lr, wd 1e-4, loss x 0.1): the loss's scale grows with P,
    # and Adam's per-parameter steps do not. See bench/RESULTS.md, "Barlow Twins
    # optimizer" and "Recipes".
    optimizer_defaults: ClassVar[OptimizerDefaults] = OptimizerDefaults(
        name="adamw",
        lr=1e-3,
        weight_decay=1e-4,
        warmup_fraction=0.067,  # one epoch of the 15-epoch run it was measured on
        source="measured here (bench/RESULTS.md, Barlow Twins optimizer): AdamW 1e-3 per "
        "256, wd 1e-4; the references' SGD and LARS learn less in short runs",
    )

    def __init__(
        self, *, backbone: str, image_size: int, hparams: BarlowTwinsHyperparameters
    ) -> None:
        super().__init__()
        self.hparams = hparams
        self.backbone = build_backbone(backbone, image_size)
        self.embed_dim = self.backbone.out_dim
        self.projector = mlp(
            self.embed_dim,
            hparams.projection_hidden_dim,
            hparams.projection_dim,
            num_layers=hparams.projection_layers,
        )
        self.views = TwoViews(*byol_configs(image_size))  # the paper uses BYOL's augmentations

    def training_step(self, batch: Batch) -> StepOutput:
        batch_size = batch.images.shape[0]
        views = self.views(batch.images)  # (2B, 3, S, S)
        h = self.backbone(views)  # (2B, D)
        z_1, z_2 = self.projector(h).split(batch_size)  # (B, P) each
        c = cross_correlation(z_1, z_2)  # (P, P)
        invariance = barlow_invariance_term(c)
        redundancy = barlow_redundancy_term(c)
        loss = invariance + self.hparams.redundancy_weight * redundancy
        return StepOutput(
            loss=loss,
            metrics={"loss_invariance": invariance.item(), "loss_redundancy": redundancy.item()},
            embeddings=h[:batch_size].detach(),  # (B, D) first views
        )
