"""VICReg: variance, invariance and covariance terms on two views' embeddings.

Bardes, Ponce and LeCun, "VICReg: Variance-Invariance-Covariance Regularization for
Self-Supervised Learning", ICLR 2022 (arXiv:2105.04906).

Energy view: E(x, y) is a distance between encoded views; the invariance term lowers it
for two views of one image. Collapse is prevented by regularising each branch on its own:
every feature keeps a batch standard deviation of at least 1 (variance) and features are
decorrelated (covariance), so no weight sharing or negatives are needed.

    view 1 -> backbone -> expander -> z1 (B, P) --\
    view 2 -> backbone -> expander -> z2 (B, P) --> lambda s(z1, z2)
                                                    + mu [v(z1) + v(z2)] + nu [c(z1) + c(z2)]
"""

from __future__ import annotations

from ssl_engine.augment import TwoViews
from ssl_engine.augment.presets import byol_configs
from ssl_engine.heads import mlp
from ssl_engine.losses.regularized import covariance_loss, invariance_loss, variance_loss
from ssl_engine.methods import fields
from ssl_engine.methods.base import (
    Batch,
    CollapsePrevention,
    Hyperparameters,
    OptimizerDefaults,
    StepOutput,
)
from ssl_engine.methods.joint_embedding import JointEmbeddingMethod, two_view_output


class VICRegHyperparameters(Hyperparameters):
    """VICReg's knobs; paper defaults except where marked as CIFAR-scale."""

    invariance_weight: float = fields.loss_weight(
        25.0, "lambda, weight of the invariance term (paper: 25)."
    )
    variance_weight: float = fields.loss_weight(
        25.0, "mu, weight of the variance term (paper: 25)."
    )
    covariance_weight: float = fields.loss_weight(
        1.0, "nu, weight of the covariance term (paper: 1)."
    )
    projection_dim: int = fields.width(
        2048,
        "Output size of the expander. The paper's 8192 is for ResNet-50 on ImageNet; "
        "2048, as in common CIFAR recipes (solo-learn), fits a ResNet-18.",
        le=16384,
    )
    projection_hidden_dim: int = fields.width(
        2048, "Hidden size of the expander (paper: 8192; 2048 at CIFAR scale).", le=16384
    )
    projection_layers: int = fields.layers(3, "Linear layers in the expander (paper: 3).")


class VICReg(JointEmbeddingMethod):
    """Backbone + expander trained with separately weighted V, I and C terms."""

    name = "vicreg"
    collapse_prevention = CollapsePrevention.REGULARIZED
    summary = (
        "Pulls two views' embeddings together while keeping every feature's variance "
        "up and the features decorrelated (variance-invariance-covariance terms)."
    )
    paper = (
        "Bardes, Ponce, LeCun. VICReg: Variance-Invariance-Covariance Regularization for "
        "Self-Supervised Learning. ICLR 2022. arXiv:2105.04906"
    )
    hyperparameters_model = VICRegHyperparameters
    # lightly's recipe (its CIFAR-10 benchmark has no VICReg; its Imagenette one): LARS
    # with eta 0.001 and no clip, lr 0.3 per 256, wd 1e-4, warm-up 20 of 200 epochs.
    # solo-learn's CIFAR recipe (eta 0.02 with clip_lr, steps ~130x larger, 10 warm-up
    # epochs of 1,000) scored 6 kNN points lower in 15 epochs; bench/RESULTS.md, "Recipes".
    optimizer_defaults = OptimizerDefaults(
        name="lars",
        lr=0.3,
        weight_decay=1e-4,
        trust_coefficient=0.001,
        clip_lr=False,
        warmup_fraction=0.1,
        source="lightly 1.5 docs/source/getting_started/benchmarks/imagenette_benchmark.py, "
        "VICRegModel: LARS 0.3 * batch / 256, eta 0.001, wd 1e-4, warm-up 20 of 200 epochs",
    )

    def __init__(self, *, backbone: str, image_size: int, hparams: VICRegHyperparameters) -> None:
        super().__init__()
        self.hparams = hparams
        self._set_backbone(backbone, image_size)
        self.expander = mlp(
            self.embed_dim,
            hparams.projection_hidden_dim,
            hparams.projection_dim,
            num_layers=hparams.projection_layers,
        )
        self.views = TwoViews(*byol_configs(image_size))  # the paper uses BYOL's augmentations

    def training_step(self, batch: Batch) -> StepOutput:
        h = self._encode_views(batch.images)  # (2B, D)
        z_1, z_2 = self.expander(h).chunk(2)  # (B, P) each
        invariance = invariance_loss(z_1, z_2)
        # the official code averages the variance term over the branches, sums covariance
        variance = 0.5 * (variance_loss(z_1) + variance_loss(z_2))
        covariance = covariance_loss(z_1) + covariance_loss(z_2)
        weights = self.hparams
        loss = (
            weights.invariance_weight * invariance
            + weights.variance_weight * variance
            + weights.covariance_weight * covariance
        )
        return two_view_output(
            loss,
            h,
            loss_invariance=invariance.item(),
            loss_variance=variance.item(),
            loss_covariance=covariance.item(),
        )
