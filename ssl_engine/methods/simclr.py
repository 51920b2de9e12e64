"""SimCLR: contrastive learning between two augmented views of each image.

Chen, Kornblith, Norouzi and Hinton, "A Simple Framework for Contrastive Learning of
Visual Representations", ICML 2020 (arXiv:2002.05709).

Energy view: E(x, y) is the cosine distance between encoded views. NT-Xent lowers it for
two views of one image and raises it for views of different images in the same batch
(the negatives), which is what keeps the encoder from collapsing.

    images -> two random views -> backbone -> h (B, D) -> projector -> z (B, P) -> NT-Xent

Users get h, not z: the paper finds the representation before the projection head
transfers better (section 4.2).
"""

from __future__ import annotations

from ssl_engine.augment import TwoViews
from ssl_engine.augment.presets import simclr_config
from ssl_engine.heads import mlp
from ssl_engine.losses.contrastive import nt_xent_loss
from ssl_engine.methods import fields
from ssl_engine.methods.base import (
    Batch,
    CollapsePrevention,
    Hyperparameters,
    OptimizerDefaults,
    StepOutput,
)
from ssl_engine.methods.joint_embedding import JointEmbeddingMethod, two_view_output


class SimCLRHyperparameters(Hyperparameters):
    """SimCLR's knobs; defaults are solo-learn's CIFAR-10 recipe (scripts/pretrain/cifar/
    simclr.yaml), which scored higher here than lightly's (temperature 0.5, a 128-d head)."""

    temperature: float = fields.temperature(
        0.2, "NT-Xent temperature (solo-learn's CIFAR recipe: 0.2; the paper's CIFAR: 0.5)."
    )
    projection_dim: int = fields.width(
        256, "Output size of the projection head (solo-learn: 256; paper: 128).", le=4096
    )
    projection_hidden_dim: int | None = fields.width(
        2048, "Hidden size of the projection head (solo-learn: 2048); None = backbone dim."
    )
    projection_layers: int = fields.layers(
        2, "Linear layers in the projection head (SimCLR v1: 2)."
    )


class SimCLR(JointEmbeddingMethod):
    """Backbone + MLP projector trained with NT-Xent on two views of each image."""

    name = "simclr"
    collapse_prevention = CollapsePrevention.CONTRASTIVE
    summary = (
        "Pulls two augmented views of an image together and pushes apart views of "
        "different images in the batch (NT-Xent contrastive loss)."
    )
    paper = (
        "Chen, Kornblith, Norouzi, Hinton. A Simple Framework for Contrastive Learning "
        "of Visual Representations. ICML 2020. arXiv:2002.05709"
    )
    hyperparameters_model = SimCLRHyperparameters
    # solo-learn's CIFAR recipe; lightly's (SGD 0.06 per 128 images, i.e. 0.12 per 256,
    # wd 5e-4, no warm-up, temperature 0.5, 512-128 head) scored 1.9 kNN points lower in
    # 15 epochs (bench/RESULTS.md, "Recipes").
    optimizer_defaults = OptimizerDefaults(
        name="lars",
        lr=0.4,
        weight_decay=1e-4,
        trust_coefficient=0.02,
        clip_lr=True,
        warmup_fraction=0.01,
        source="solo-learn scripts/pretrain/cifar/simclr.yaml: LARS lr 0.4 per 256, eta 0.02, "
        "clip_lr, wd 1e-4, warmup_cosine 10 of 1000 epochs",
    )

    def __init__(self, *, backbone: str, image_size: int, hparams: SimCLRHyperparameters) -> None:
        super().__init__()
        self.hparams = hparams
        self._set_backbone(backbone, image_size)
        hidden_dim = hparams.projection_hidden_dim or self.embed_dim
        self.projector = mlp(
            self.embed_dim, hidden_dim, hparams.projection_dim, num_layers=hparams.projection_layers
        )
        self.views = TwoViews(simclr_config(image_size))

    def training_step(self, batch: Batch) -> StepOutput:
        h = self._encode_views(batch.images)  # (2B, D)
        z_a, z_b = self.projector(h).chunk(2)  # (B, P) each
        loss = nt_xent_loss(z_a, z_b, self.hparams.temperature)
        return two_view_output(loss, h, loss_nt_xent=loss.item())
