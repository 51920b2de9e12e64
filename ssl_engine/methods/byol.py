"""BYOL: predict a slowly moving target network's projection of the other view.

Grill, Strub, Altché, Tallec, Richemond, Buchatskaya, Doersch, Avila Pires, Guo,
Gheshlaghi Azar, Piot, Kavukcuoglu, Munos and Valko, "Bootstrap Your Own Latent: A New
Approach to Self-Supervised Learning", NeurIPS 2020 (arXiv:2006.07733).

Energy view: E(x, y) is the cosine distance between encoded views. There are no
negatives; collapse is avoided by architecture: only the online network (with an extra
predictor) receives gradients, and the target is an exponential moving average of it
whose momentum rises from tau_base to 1 along a cosine (section 3.1).

    view 1 -> backbone -> projector -> predictor -> p1 (B, P) --> 2 - 2 cos(p1, z2')
    view 2 -> target backbone -> target projector -> z2' (B, P)   (no gradient)
    and the same with the views swapped; after each optimizer step: target <- EMA(online)
"""

from __future__ import annotations

import torch
from pydantic import Field

from ssl_engine.augment import TwoViews
from ssl_engine.augment.presets import byol_configs
from ssl_engine.ema import cosine_momentum, ema_update_, frozen_copy
from ssl_engine.heads import mlp
from ssl_engine.losses.similarity import normalized_mse
from ssl_engine.methods import fields
from ssl_engine.methods.base import (
    Batch,
    CollapsePrevention,
    Hyperparameters,
    Method,
    OptimizerDefaults,
    StepOutput,
)
from ssl_engine.methods.joint_embedding import JointEmbeddingMethod


class BYOLHyperparameters(Hyperparameters):
    """BYOL's knobs; paper defaults except where marked as CIFAR-scale."""

    base_momentum: float = Field(
        0.99,
        ge=0,
        le=1,
        description=(
            "tau_base, the target momentum at the start; it rises to 1 along a cosine. "
            "The paper's 0.996 is for ImageNet's ~300k steps; 0.99, as in common CIFAR "
            "recipes (e.g. solo-learn's), keeps the target moving on shorter runs."
        ),
    )
    projection_dim: int = fields.width(
        256, "Output size of projector and predictor (paper: 256).", le=4096
    )
    projection_hidden_dim: int = fields.width(
        4096, "Hidden size of the projector (paper: 4096).", le=16384
    )
    predictor_hidden_dim: int = fields.width(
        4096, "Hidden size of the predictor (paper: 4096).", le=16384
    )


class BYOL(JointEmbeddingMethod):
    """Online backbone + projector + predictor, regressed onto an EMA target network."""

    name = "byol"
    collapse_prevention = CollapsePrevention.ARCHITECTURAL
    summary = (
        "An online network predicts a slowly moving average of itself on another view "
        "of the same image; no negatives (predictor + momentum target)."
    )
    paper = (
        "Grill et al. Bootstrap Your Own Latent: A New Approach to Self-Supervised "
        "Learning. NeurIPS 2020. arXiv:2006.07733"
    )
    hyperparameters_model = BYOLHyperparameters
    # lightly's CIFAR-10 recipe (SGD, wd 5e-4, no warm-up) at half its rate: 0.06 per 256
    # scored 1.8 kNN points above lightly's 0.12 in 15 epochs, solo-learn's LARS (1.0,
    # eta 0.02, clip_lr, wd 1e-5) 2.9 below (bench/RESULTS.md, "Recipes"). The momentum
    # schedule stays the paper's cosine.
    optimizer_defaults = OptimizerDefaults(
        name="sgd",
        lr=0.06,
        weight_decay=5e-4,
        warmup_fraction=0.0,
        source="lightly 1.5 docs/source/getting_started/benchmarks/cifar10_benchmark.py, "
        "BYOLModel (SGD, momentum 0.9, wd 5e-4, cosine, no warm-up) at half its "
        "6e-2 * batch / 128: measured better here",
    )

    def __init__(self, *, backbone: str, image_size: int, hparams: BYOLHyperparameters) -> None:
        super().__init__()
        self.hparams = hparams
        self._set_backbone(backbone, image_size)
        self.projector = mlp(self.embed_dim, hparams.projection_hidden_dim, hparams.projection_dim)
        self.predictor = mlp(
            hparams.projection_dim, hparams.predictor_hidden_dim, hparams.projection_dim
        )
        self.target_backbone = frozen_copy(self.backbone)
        self.target_projector = frozen_copy(self.projector)
        self.target_momentum = hparams.base_momentum  # updated by on_step_end
        self.views = TwoViews(*byol_configs(image_size))

    def training_step(self, batch: Batch) -> StepOutput:
        batch_size = batch.images.shape[0]
        views = self.views(batch.images)  # (2B, 3, S, S)
        h = self.backbone(views)  # (2B, D)
        p_1, p_2 = self.predictor(self.projector(h)).split(batch_size)  # (B, P) each
        with torch.no_grad():
            target = self.target_projector(self.target_backbone(views))  # (2B, P)
            z_1, z_2 = target.split(batch_size)  # (B, P) each
        # Symmetrised as in the paper: each view's prediction targets the other view.
        loss = normalized_mse(p_1, z_2) + normalized_mse(p_2, z_1)
        return StepOutput(
            loss=loss,
            metrics={"loss_regression": loss.item(), "target_momentum": self.target_momentum},
            embeddings=h[:batch_size].detach(),  # (B, D) first views
        )

    def start_from_parent(self, parent: Method) -> None:
        super().start_from_parent(parent)
        self.target_backbone.load_state_dict(self.backbone.state_dict())  # the momentum copy too

    def on_step_end(self, progress: float) -> None:
        """target <- tau * target + (1 - tau) * online, tau on BYOL's cosine schedule."""
        self.target_momentum = cosine_momentum(self.hparams.base_momentum, progress)
        ema_update_(self.target_backbone, self.backbone, self.target_momentum)
        ema_update_(self.target_projector, self.projector, self.target_momentum)
