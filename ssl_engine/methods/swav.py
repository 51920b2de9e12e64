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
for the first ``freeze_prototypes_fraction`` of the run. A queue of past projections
can join the batch in Sinkhorn so that K prototypes can still share a small batch
fairly, from ``queue_start_fraction`` of the run on (off by default, as in lightly's
CIFAR-10 recipe: it made short runs worse here). Both are shares of the run, so the
schedule keeps its shape at any length (solo-learn's CIFAR recipe: epochs 2 and 50 of
1,000); the older ``*_epochs`` keys, which jobs stored before still carry, override them.
Not reproduced: multi-crop (the extra low-resolution views); two full-size views only,
cropped from 14% to 100% of the image as the paper's full-size crops are.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from ssl_engine.augment import TwoViews
from ssl_engine.augment.presets import swav_config
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
        0,
        ge=0,
        le=65536,
        description=(
            "Past projections per view added to the Sinkhorn batch; 0 (lightly's CIFAR-10 "
            "recipe) disables the queue. The paper's 3840 for batch 256 (solo-learn's "
            "CIFAR recipe, from 5% of the run) cost 13 kNN points in a 15-epoch run here."
        ),
    )
    queue_start_fraction: float = Field(
        0.05,
        ge=0,
        le=1,
        description=(
            "Share of the run after which the queue is filled and, once full, used "
            "(solo-learn's CIFAR recipe: epoch 50 of 1,000)."
        ),
    )
    freeze_prototypes_fraction: float = Field(
        0.002,
        ge=0,
        le=1,
        description=(
            "Share of the run during which the prototypes get no gradient (solo-learn's "
            "CIFAR recipe: 2 epochs of 1,000; the paper: 1 ImageNet epoch of 800)."
        ),
    )
    queue_start_epoch: int | None = Field(
        None,
        ge=0,
        le=100_000,
        description="Epoch from which the queue is used; overrides queue_start_fraction.",
    )
    freeze_prototypes_epochs: int | None = Field(
        None,
        ge=0,
        le=100_000,
        description="Epochs of frozen prototypes; overrides freeze_prototypes_fraction.",
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
    # lightly's CIFAR-10 recipe (Adam 1e-3 per 128 images, weight decay 1e-6, no warm-up;
    # AdamW here, whose decoupled decay differs from Adam's L2 term by a negligible 1e-6).
    # solo-learn's (LARS 0.6, eta 0.02, clip_lr, 3,000 prototypes) is compared in
    # bench/RESULTS.md, "Recipes".
    optimizer_defaults = OptimizerDefaults(
        name="adamw",
        lr=2e-3,
        weight_decay=1e-6,
        warmup_fraction=0.0,
        source="lightly 1.5 docs/source/getting_started/benchmarks/cifar10_benchmark.py, "
        "SwaVModel: Adam 1e-3 * batch / 128, wd 1e-6, cosine, no warm-up",
    )

    queue: Tensor
    queue_filled: Tensor
    epoch: Tensor
    progress: Tensor

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
        self.register_buffer("progress", torch.zeros(()))  # share of the run done
        self.register_load_state_dict_pre_hook(_progress_of_old_checkpoints)
        self.views = TwoViews(swav_config(image_size))

    def on_epoch_start(self, context: EpochContext) -> None:
        self.epoch.fill_(context.epoch)

    def training_step(self, batch: Batch) -> StepOutput:
        batch_size = batch.images.shape[0]
        with torch.no_grad():
            self.prototypes.weight.copy_(F.normalize(self.prototypes.weight, dim=1))
        views = self.views(batch.images)  # (2B, 3, S, S)
        h = self.backbone(views)  # (2B, D)
        z = F.normalize(self.projector(h), dim=1)  # (2B, P)
        prototypes = self.prototypes.weight  # (K, P)
        if self._prototypes_frozen():
            prototypes = prototypes.detach()  # no gradient: the optimizer skips them
        scores_a, scores_b = (z @ prototypes.T).split(batch_size)  # (B, K) each

        queue_on = self.hparams.queue_length > 0 and self._queue_started()
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

    def _prototypes_frozen(self) -> bool:
        """Whether the prototypes still take no gradient at this point of the run."""
        epochs = self.hparams.freeze_prototypes_epochs
        if epochs is not None:  # a job stored with the older, epoch-counted key
            return int(self.epoch) < epochs
        return float(self.progress) < self.hparams.freeze_prototypes_fraction

    def _queue_started(self) -> bool:
        """Whether the queue is filled (and, once full, used) at this point of the run."""
        epoch = self.hparams.queue_start_epoch
        if epoch is not None:  # a job stored with the older, epoch-counted key
            return int(self.epoch) >= epoch
        return float(self.progress) >= self.hparams.queue_start_fraction

    def on_step_end(self, progress: float) -> None:
        """Record the share of the run done, which the queue and freeze schedule read."""
        self.progress.fill_(progress)

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


def _progress_of_old_checkpoints(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, *_: Any
) -> None:
    """Checkpoints written before the schedule was a share of the run have no progress
    buffer; theirs starts at 0 and is set when the next step ends (their jobs carry the
    epoch-counted keys, which read the epoch instead)."""
    if isinstance(module, SwAV):
        state_dict.setdefault(prefix + "progress", torch.zeros(()))
