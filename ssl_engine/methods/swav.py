"""SwAV: predict the cluster code of one view from the other view.

Caron, Misra, Mairal, Goyal, Bojanowski and Joulin, "Unsupervised Learning of Visual
Features by Contrasting Cluster Assignments", NeurIPS 2020 (arXiv:2006.09882).

Energy view: a joint-embedding method whose collapse is prevented by clustering. Each
view is scored against K learned prototypes; Sinkhorn-Knopp turns the scores into soft
codes under an equipartition constraint (every prototype takes an equal share of the
batch), so mapping all images to one prototype is not a solution. The loss makes each
view predict the other view's code. E(x, y) is the cosine distance of the backbone
features, as for the other joint-embedding methods.

    2 views -> backbone -> h (B, D) -> projector -> z = normalise (B, P) -> scores z C^T (B, K)
    codes q = Sinkhorn(scores [+ queue scores]) (no gradient)
    loss = swapped prediction: H(q_b, softmax(scores_a / t)) + H(q_a, softmax(scores_b / t))

Prototypes C (K, P) are re-normalised to unit length before every step and kept fixed
for the first ``freeze_prototypes_epochs`` epochs. With small batches a queue of past
projections joins the batch in Sinkhorn so that K prototypes can still share it fairly.
Not reproduced: multi-crop (the extra low-resolution views); two full-size views only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from ssl_engine.augment import TwoViews
from ssl_engine.augment.presets import simclr_config
from ssl_engine.heads import mlp
from ssl_engine.losses.clustering import sinkhorn_knopp, swapped_prediction_loss
from ssl_engine.methods import fields
from ssl_engine.methods.base import (
    Batch,
    CollapsePrevention,
    EpochContext,
    Hyperparameters,
    OptimizerDefaults,
    StepOutput,
)
from ssl_engine.methods.joint_embedding import JointEmbeddingMethod


class SwAVHyperparameters(Hyperparameters):
    """SwAV's knobs; the paper's defaults, with CIFAR-scale prototypes and queue schedule."""

    num_prototypes: int = Field(
        512,
        ge=2,
        le=65536,
        description=(
            "Number of prototypes K. The paper's 3000 is for ImageNet's 1000 classes; "
            "512 is the lightly CIFAR-10 benchmark's value."
        ),
    )
    temperature: float = fields.temperature(
        0.1, "Softmax temperature of the predictions (paper: 0.1)."
    )
    sinkhorn_epsilon: float = fields.temperature(
        0.05, "Entropic regularisation of Sinkhorn-Knopp (paper: 0.05)."
    )
    sinkhorn_iterations: int = Field(
        3, ge=1, le=100, description="Sinkhorn-Knopp iterations (paper: 3)."
    )
    projection_dim: int = fields.width(
        128, "Projection (and prototype) size (paper: 128).", le=4096
    )
    projection_hidden_dim: int = fields.width(
        2048, "Hidden size of the projection head (paper: 2048)."
    )
    queue_length: int = Field(
        3840,
        ge=0,
        le=65536,
        description=(
            "Past projections per view added to the Sinkhorn batch; 0 disables the queue. "
            "3840 is the paper's value for batch 256 (and solo-learn's CIFAR recipe)."
        ),
    )
    queue_start_epoch: int = Field(
        50,
        ge=0,
        le=100_000,
        description=(
            "Epoch from which the queue is filled and, once full, used. The paper starts "
            "at epoch 15 of ImageNet; CIFAR recipes (solo-learn) start at 50."
        ),
    )
    freeze_prototypes_epochs: int = Field(
        2,
        ge=0,
        le=100_000,
        description=(
            "Epochs during which the prototypes get no gradient. The paper freezes them "
            "for its first ImageNet epoch; CIFAR epochs are 25x shorter, so solo-learn's "
            "CIFAR recipe freezes 2."
        ),
    )


class SwAV(JointEmbeddingMethod):
    """Backbone + projector + prototypes, trained by swapped prediction of Sinkhorn codes."""

    name = "swav"
    collapse_prevention = CollapsePrevention.CLUSTERING
    summary = (
        "Assigns each view to learned prototypes with equal-size soft clusters "
        "(Sinkhorn-Knopp) and predicts one view's assignment from the other view."
    )
    paper = (
        "Caron, Misra, Mairal, Goyal, Bojanowski, Joulin. Unsupervised Learning of Visual "
        "Features by Contrasting Cluster Assignments. NeurIPS 2020. arXiv:2006.09882"
    )
    hyperparameters_model = SwAVHyperparameters
    # The paper's LARS recipe (lr 0.6 per 256 images at batch 4096, weight decay 1e-6)
    # relies on a large batch and, on CIFAR, a larger LARS trust coefficient than the
    # trainer's. Plain SGD with lr 0.06 per 256 and weight decay 5e-4 is the lightly
    # CIFAR-10 benchmark recipe, which trains SwAV well at single-GPU batch sizes.
    optimizer_defaults = OptimizerDefaults(name="sgd", lr=0.06, weight_decay=5e-4)

    queue: Tensor
    queue_filled: Tensor
    epoch: Tensor

    def __init__(self, *, backbone: str, image_size: int, hparams: SwAVHyperparameters) -> None:
        super().__init__()
        self.hparams = hparams
        self._set_backbone(backbone, image_size)
        self.projector = mlp(self.embed_dim, hparams.projection_hidden_dim, hparams.projection_dim)
        self.prototypes = nn.Linear(hparams.projection_dim, hparams.num_prototypes, bias=False)
        # Buffers, so a resumed run continues with the same queue and schedule.
        queue = torch.zeros(2, hparams.queue_length, hparams.projection_dim)
        self.register_buffer("queue", queue)  # (2 views, L, P), newest rows first
        self.register_buffer("queue_filled", torch.zeros((), dtype=torch.long))  # valid rows
        self.register_buffer("epoch", torch.zeros((), dtype=torch.long))  # current epoch
        self.views = TwoViews(simclr_config(image_size))

    def on_epoch_start(self, context: EpochContext) -> None:
        self.epoch.fill_(context.epoch)

    def training_step(self, batch: Batch) -> StepOutput:
        batch_size = batch.images.shape[0]
        epoch = int(self.epoch)
        with torch.no_grad():
            self.prototypes.weight.copy_(F.normalize(self.prototypes.weight, dim=1))
        views = self.views(batch.images)  # (2B, 3, S, S)
        h = self.backbone(views)  # (2B, D)
        z = F.normalize(self.projector(h), dim=1)  # (2B, P)
        prototypes = self.prototypes.weight  # (K, P)
        if epoch < self.hparams.freeze_prototypes_epochs:
            prototypes = prototypes.detach()  # no gradient: the optimizer skips them
        scores_a, scores_b = (z @ prototypes.T).split(batch_size)  # (B, K) each

        queue_on = self.hparams.queue_length > 0 and epoch >= self.hparams.queue_start_epoch
        queue_full = queue_on and int(self.queue_filled) == self.hparams.queue_length
        codes_a = self._codes(scores_a, self.queue[0] if queue_full else None)  # (B, K)
        codes_b = self._codes(scores_b, self.queue[1] if queue_full else None)  # (B, K)
        loss = swapped_prediction_loss(
            scores_a, scores_b, codes_a, codes_b, temperature=self.hparams.temperature
        )
        if queue_on:
            self._enqueue(*z.detach().split(batch_size))
        return StepOutput(
            loss=loss,
            metrics={"loss_swapped_prediction": loss.item(), "queue_in_use": float(queue_full)},
            embeddings=h[:batch_size].detach(),  # (B, D) first views
        )

    def _codes(self, scores: Tensor, queue: Tensor | None) -> Tensor:
        """(B, K) scores of one view -> (B, K) Sinkhorn codes, shared out with the queue.

        queue: (L, P) past projections of the same view, or None. Their scores join the
        batch in Sinkhorn, so that equipartition is enforced over B + L samples.
        """
        batch_size = scores.shape[0]
        scores = scores.detach().float()
        if queue is not None:
            queued = queue @ self.prototypes.weight.detach().float().T  # (L, K)
            scores = torch.cat([scores, queued])  # (B + L, K)
        codes = sinkhorn_knopp(
            scores,
            epsilon=self.hparams.sinkhorn_epsilon,
            iterations=self.hparams.sinkhorn_iterations,
        )  # (B [+ L], K)
        return codes[:batch_size]  # (B, K)

    @torch.no_grad()
    def _enqueue(self, z_a: Tensor, z_b: Tensor) -> None:
        """Push this batch's (B, P) projections in front of each view's queue."""
        length = self.hparams.queue_length
        for view, z in enumerate((z_a, z_b)):
            self.queue[view] = torch.cat([z.float(), self.queue[view]])[:length]  # (L, P)
        self.queue_filled.copy_((self.queue_filled + len(z_a)).clamp(max=length))
