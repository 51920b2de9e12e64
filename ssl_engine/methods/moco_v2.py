"""MoCo v2: contrast each query with its momentum-encoded key and a queue of old keys.

He, Fan, Wu, Xie and Girshick, "Momentum Contrast for Unsupervised Visual Representation
Learning", CVPR 2020 (arXiv:1911.05722), with the improvements of Chen, Fan, Girshick and
He, "Improved Baselines with Momentum Contrastive Learning", 2020 (arXiv:2003.04297): an
MLP projection head, blur in the augmentation, temperature 0.2, cosine learning rate.

Energy view: E(x, y) is the cosine distance between encoded views. InfoNCE lowers it for
a query and the key of the other view of the same image, and raises it for the K keys in
the queue (the negatives), which is what prevents collapse. The queue decouples the number
of negatives from the batch size; the key encoder trails the query encoder slowly, so
keys enqueued a few hundred steps apart stay comparable.

    view q -> backbone -> projector -> q (B, P) --\
    view k -> key backbone -> key projector -> k (B, P) -> InfoNCE(q, k, queue (K, P))
    after the loss: enqueue k; after each optimizer step: key encoder <- EMA of the encoder

Not reproduced: shuffling BN, a multi-GPU trick that keeps a query and its key from
sharing BatchNorm batch statistics; a single-process job computes keys on one batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from ssl_engine.augment import TwoViews
from ssl_engine.augment.presets import moco_v2_config
from ssl_engine.ema import ema_update_, frozen_copy
from ssl_engine.heads import mlp
from ssl_engine.losses.infonce_queue import infonce_queue_loss
from ssl_engine.methods import fields
from ssl_engine.methods.base import (
    Batch,
    CollapsePrevention,
    Hyperparameters,
    OptimizerDefaults,
    StepOutput,
)
from ssl_engine.methods.joint_embedding import JointEmbeddingMethod


class MoCoV2Hyperparameters(Hyperparameters):
    """MoCo v2's knobs; paper defaults except where marked as CIFAR-scale."""

    temperature: float = fields.temperature(0.2, "InfoNCE temperature (MoCo v2: 0.2).")
    momentum: float = Field(
        0.99,
        ge=0,
        le=1,
        description=(
            "Momentum of the key encoder. The paper's 0.999 suits ImageNet's ~1M steps; "
            "0.99, as in common CIFAR-10 recipes (e.g. the MoCo authors' CIFAR demo), "
            "lets the keys keep up over a CIFAR-length run."
        ),
    )
    queue_size: int = Field(
        4096,
        ge=1,
        le=1_000_000,
        description=(
            "Number of negative keys K. The paper's 65536 exceeds CIFAR-10's 50000 images "
            "(keys would be many epochs old); 4096 is the usual CIFAR choice."
        ),
    )
    projection_dim: int = fields.width(
        128, "Output size of the projection head (paper: 128).", le=4096
    )
    projection_hidden_dim: int | None = Field(
        None,
        ge=8,
        le=8192,
        description="Hidden size of the projection head; None = backbone dim (paper: 2048).",
    )


class MoCoV2(JointEmbeddingMethod):
    """Query encoder + projector, a momentum key encoder and a queue of negative keys."""

    name = "moco_v2"
    collapse_prevention = CollapsePrevention.CONTRASTIVE
    summary = (
        "Matches each view to the momentum-encoded other view of the same image against "
        "a large queue of keys from earlier batches (InfoNCE contrastive loss)."
    )
    paper = (
        "Chen, Fan, Girshick, He. Improved Baselines with Momentum Contrastive Learning. "
        "2020. arXiv:2003.04297 (MoCo: He et al., CVPR 2020, arXiv:1911.05722)"
    )
    hyperparameters_model = MoCoV2Hyperparameters
    # The paper's SGD recipe: lr 0.03 per 256 images, momentum 0.9. Weight decay 5e-4
    # instead of ImageNet's 1e-4: small datasets over-fit sooner (the CIFAR recipes' value).
    optimizer_defaults = OptimizerDefaults(name="sgd", lr=0.03, weight_decay=5e-4)

    queue: Tensor
    queue_ptr: Tensor

    def __init__(self, *, backbone: str, image_size: int, hparams: MoCoV2Hyperparameters) -> None:
        super().__init__()
        self.hparams = hparams
        self._set_backbone(backbone, image_size)
        hidden_dim = hparams.projection_hidden_dim or self.embed_dim
        # MoCo v2's head: fc -> ReLU -> fc, without BatchNorm.
        self.projector = mlp(self.embed_dim, hidden_dim, hparams.projection_dim, batch_norm=False)
        self.key_backbone = frozen_copy(self.backbone)
        self.key_projector = frozen_copy(self.projector)
        # Buffers, so that checkpoints carry the negatives and where the next keys go.
        # The queue starts as random unit vectors, as in the paper's code.
        queue = F.normalize(torch.randn(hparams.queue_size, hparams.projection_dim), dim=1)
        self.register_buffer("queue", queue)  # (K, P)
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))  # next row to write
        self.views = TwoViews(moco_v2_config(image_size))

    def training_step(self, batch: Batch) -> StepOutput:
        query_views, key_views = self.views(batch.images).chunk(2)  # (B, 3, S, S) each
        h = self.backbone(query_views)  # (B, D)
        q = self.projector(h)  # (B, P)
        with torch.no_grad():
            k = self.key_projector(self.key_backbone(key_views))  # (B, P)
        loss = infonce_queue_loss(q, k, self.queue, self.hparams.temperature)
        self._enqueue(k)
        return StepOutput(
            loss=loss,
            metrics={"loss_infonce": loss.item()},
            embeddings=h.detach(),  # (B, D)
        )

    @torch.no_grad()
    def _enqueue(self, keys: Tensor) -> None:
        """Overwrite the oldest rows of the (K, P) queue with this batch's (B, P) keys."""
        size = self.queue.shape[0]
        keys = F.normalize(keys.float(), dim=1)[-size:]  # (min(B, K), P)
        rows = (self.queue_ptr + torch.arange(keys.shape[0], device=keys.device)) % size
        self.queue[rows] = keys
        self.queue_ptr.copy_((self.queue_ptr + keys.shape[0]) % size)

    def on_step_end(self, progress: float) -> None:
        """Key encoder <- momentum * key encoder + (1 - momentum) * query encoder."""
        ema_update_(self.key_backbone, self.backbone, self.hparams.momentum)
        ema_update_(self.key_projector, self.projector, self.hparams.momentum)
