"""SimSiam: a siamese network with a predictor and a stop-gradient, and nothing else.

Chen and He, "Exploring Simple Siamese Representation Learning", CVPR 2021
(arXiv:2011.10566).

Energy view: E(x, y) is the cosine distance between encoded views. No negatives, no
momentum encoder: the stop-gradient on the target branch is what prevents collapse
(without it the loss drops to -1 at once and the outputs collapse, section 4.1).

    view 1 -> backbone -> projector -> z1 (B, P) -> predictor -> p1 (B, P)
    view 2 -> backbone -> projector -> z2 (B, P) -> predictor -> p2 (B, P)
    loss = D(p1, stopgrad(z2)) / 2 + D(p2, stopgrad(z1)) / 2,  D = -cosine similarity

Not reproduced: the paper keeps the predictor's learning rate constant while the rest
follows the cosine schedule; the trainer applies one schedule to every parameter.
"""

from __future__ import annotations

from ssl_engine.augment import TwoViews
from ssl_engine.augment.presets import moco_v2_config
from ssl_engine.heads import mlp
from ssl_engine.losses.similarity import negative_cosine_similarity
from ssl_engine.methods import fields
from ssl_engine.methods.base import (
    Batch,
    CollapsePrevention,
    Hyperparameters,
    OptimizerDefaults,
    StepOutput,
)
from ssl_engine.methods.joint_embedding import JointEmbeddingMethod, two_view_output


class SimSiamHyperparameters(Hyperparameters):
    """SimSiam's knobs; defaults are the paper's."""

    projection_dim: int = fields.width(2048, "Output size of the projector (paper: 2048).")
    projection_hidden_dim: int = fields.width(2048, "Hidden size of the projector (paper: 2048).")
    projection_layers: int = fields.layers(
        2, "Linear layers in the projector (paper: 3 on ImageNet, 2 on CIFAR-10).", ge=2
    )
    predictor_hidden_dim: int = fields.width(
        512, "Bottleneck of the predictor (paper: 512, a quarter of its output)."
    )


class SimSiam(JointEmbeddingMethod):
    """Backbone + projector + predictor; each view's prediction regresses the other's."""

    name = "simsiam"
    collapse_prevention = CollapsePrevention.ARCHITECTURAL
    summary = (
        "Predicts one view's projection from the other's through a small predictor, "
        "with a stop-gradient on the target; no negatives, no momentum encoder."
    )
    paper = (
        "Chen, He. Exploring Simple Siamese Representation Learning. CVPR 2021. arXiv:2011.10566"
    )
    hyperparameters_model = SimSiamHyperparameters
    # AdamW rather than a reference's SGD (lightly: 0.06 per batch, unscaled, wd 5e-4;
    # solo-learn: 0.5 per 256, wd 1e-5), measured better on short runs; see
    # bench/RESULTS.md, "SimSiam optimizer" and "Recipes".
    optimizer_defaults = OptimizerDefaults(
        name="adamw",
        lr=1e-3,
        weight_decay=1e-4,
        warmup_fraction=0.067,  # one epoch of the 15-epoch run it was measured on
        source="measured here (bench/RESULTS.md, SimSiam optimizer): AdamW 1e-3 per 256, "
        "wd 1e-4; the references' SGD learns less in short runs",
    )

    def __init__(self, *, backbone: str, image_size: int, hparams: SimSiamHyperparameters) -> None:
        super().__init__()
        self.hparams = hparams
        self._set_backbone(backbone, image_size)
        # BN on every layer including the output (without affine), no ReLU at the output.
        self.projector = mlp(
            self.embed_dim,
            hparams.projection_hidden_dim,
            hparams.projection_dim,
            num_layers=hparams.projection_layers,
            last_batch_norm=True,
        )
        # A bottleneck: BN + ReLU in the hidden layer, a plain linear output.
        self.predictor = mlp(
            hparams.projection_dim, hparams.predictor_hidden_dim, hparams.projection_dim
        )
        self.views = TwoViews(moco_v2_config(image_size))  # the paper uses MoCo v2's

    def training_step(self, batch: Batch) -> StepOutput:
        h = self._encode_views(batch.images)  # (2B, D)
        z = self.projector(h)  # (2B, P)
        p_1, p_2 = self.predictor(z).chunk(2)  # (B, P) each
        z_1, z_2 = z.detach().chunk(2)  # (B, P) each; the stop-gradient
        loss = (negative_cosine_similarity(p_1, z_2) + negative_cosine_similarity(p_2, z_1)) / 2
        return two_view_output(loss, h, loss_negative_cosine=loss.item())
