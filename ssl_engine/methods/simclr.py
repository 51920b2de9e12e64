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
    """SimCLR's knobs; defaults follow the paper's CIFAR-10 setup (appendix B.9)."""

    temperature: float = fields.temperature(
        0.5, "NT-Xent temperature; 0.5 is the paper's CIFAR value."
    )
    projection_dim: int = fields.width(
        128, "Output size of the projection head (paper: 128).", le=4096
    )
    projection_hidden_dim: int | None = fields.width(
        None, "Hidden size of the projection head; None = backbone dim."
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
    # lightly's CIFAR-10 recipe: SGD at 0.06 per 128 images (0.12 per 256), weight decay
    # 5e-4, cosine without warm-up. solo-learn's (LARS 0.4, eta 0.02, clip_lr, wd 1e-4,
    # temperature 0.2, 10 warm-up epochs of 1,000) is in bench/RESULTS.md, "Recipes".
    optimizer_defaults = OptimizerDefaults(
        name="sgd",
        lr=0.12,
        weight_decay=5e-4,
        warmup_fraction=0.0,
        source="lightly 1.5 docs/source/getting_started/benchmarks/cifar10_benchmark.py, "
        "SimCLRModel: SGD 6e-2 * batch / 128, momentum 0.9, wd 5e-4, cosine, no warm-up",
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
