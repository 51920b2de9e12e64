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

    views a, b -> backbone (split BN) -> projector -> q_a, q_b (B, P) each
    views a, b -> shuffle -> key backbone (split BN) -> key projector -> unshuffle -> k_a, k_b
    (the query backbone's BatchNorm is split into groups too, in batch order)
    loss = (InfoNCE(q_a, k_b, queue) + InfoNCE(q_b, k_a, queue)) / 2
    after the loss: enqueue k_a, k_b; after each optimizer step: key encoder <- EMA

The symmetric loss uses each image twice per step (the MoCo authors' CIFAR-10 demo
reports it worth about twice the epochs). Shuffling BN (MoCo, section 3.3) is done in one
process, as if on ``num_splits`` GPUs: both encoders' BatchNorm normalise that many groups
of the batch separately (``ssl_engine.split_batchnorm``), the keys' groups drawn at random
after a shuffle, so a key never shares batch statistics with its query.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

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
    Method,
    OptimizerDefaults,
    StepOutput,
)
from ssl_engine.methods.joint_embedding import JointEmbeddingMethod
from ssl_engine.split_batchnorm import set_num_splits_, shuffled_forward, split_batchnorm_

# BatchNorm statistics of fewer images are mostly noise: small batches get fewer groups.
MIN_GROUP_IMAGES = 8


class MoCoV2Hyperparameters(Hyperparameters):
    """MoCo v2's knobs; paper defaults except where marked as CIFAR-scale."""

    temperature: float = fields.temperature(
        0.1, "InfoNCE temperature (lightly's CIFAR-10 recipe: 0.1; MoCo v2 on ImageNet: 0.2)."
    )
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
    num_splits: int = Field(
        8,
        ge=1,
        le=1024,
        description=(
            "Groups of the global batch that BatchNorm normalises separately, in both "
            "encoders, keys after a random shuffle (MoCo's shuffling BN on 8 GPUs; "
            "lightly's CIFAR-10 recipe: 8 splits). 1 turns it off. Groups hold at least 8 "
            "images; a batch it does not divide uses the largest divisor below."
        ),
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
    # lightly's CIFAR-10 recipe; solo-learn's (SGD 0.3, wd 1e-4, temperature 0.2, 10
    # warm-up epochs of 1,000) is compared in bench/RESULTS.md, "Recipes".
    optimizer_defaults = OptimizerDefaults(
        name="sgd",
        lr=0.12,
        weight_decay=5e-4,
        warmup_fraction=0.0,
        source="lightly 1.5 docs/source/getting_started/benchmarks/cifar10_benchmark.py, "
        "MocoModel: SGD 6e-2 * batch / 128, momentum 0.9, wd 5e-4, cosine, no warm-up",
    )

    queue: Tensor
    queue_ptr: Tensor

    def __init__(self, *, backbone: str, image_size: int, hparams: MoCoV2Hyperparameters) -> None:
        super().__init__()
        self.hparams = hparams
        self._set_backbone(backbone, image_size)
        split_batchnorm_(self.backbone, hparams.num_splits)
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
        batch_size = batch.images.shape[0]
        views = self.views(batch.images)  # (2B, 3, S, S): view a, then view b
        self._set_splits(batch_size)
        h = self.backbone(views)  # (2B, D)
        q_a, q_b = self.projector(h).chunk(2)  # (B, P) each
        with torch.no_grad():
            k_a, k_b = self._keys(views).chunk(2)  # (B, P) each
        loss = 0.5 * (
            infonce_queue_loss(q_a, k_b, self.queue, self.hparams.temperature)
            + infonce_queue_loss(q_b, k_a, self.queue, self.hparams.temperature)
        )
        self._enqueue(torch.cat([k_a, k_b]))
        return StepOutput(
            loss=loss,
            metrics={"loss_infonce": loss.item()},
            embeddings=h[:batch_size].detach(),  # (B, D) first views
        )

    def _set_splits(self, images: int) -> None:
        """Split BatchNorm of both encoders into groups of B / ``num_splits`` views.

        ``num_splits`` counts groups of the global batch of B images, as if on that many
        GPUs; this process's 2B views (both views, one pass) hold twice its share.
        """
        wanted = min(self.hparams.num_splits // _world_size(), images // MIN_GROUP_IMAGES)
        splits = _largest_divisor(images, max(1, wanted))
        set_num_splits_(self.backbone, 2 * splits)
        set_num_splits_(self.key_backbone, 2 * splits)

    def _keys(self, views: Tensor) -> Tensor:
        """(2B, 3, S, S) views -> (2B, P) keys, computed in shuffled order: a key's
        BatchNorm group holds other images than its query's."""
        return shuffled_forward(nn.Sequential(self.key_backbone, self.key_projector), views)

    @torch.no_grad()
    def _enqueue(self, keys: Tensor) -> None:
        """Overwrite the oldest rows of the (K, P) queue with this batch's (B, P) keys."""
        size = self.queue.shape[0]
        keys = F.normalize(keys.float(), dim=1)[-size:]  # (min(B, K), P)
        rows = (self.queue_ptr + torch.arange(keys.shape[0], device=keys.device)) % size
        self.queue[rows] = keys
        self.queue_ptr.copy_((self.queue_ptr + keys.shape[0]) % size)

    def start_from_parent(self, parent: Method) -> None:
        super().start_from_parent(parent)
        self.key_backbone.load_state_dict(self.backbone.state_dict())  # the momentum copy too

    def on_step_end(self, progress: float) -> None:
        """Key encoder <- momentum * key encoder + (1 - momentum) * query encoder."""
        ema_update_(self.key_backbone, self.backbone, self.hparams.momentum)
        ema_update_(self.key_projector, self.projector, self.hparams.momentum)


def _world_size() -> int:
    """Processes the global batch is spread over (1 outside torch.distributed)."""
    distributed = torch.distributed
    return distributed.get_world_size() if distributed.is_initialized() else 1


def _largest_divisor(n: int, at_most: int) -> int:
    """The largest d <= at_most dividing n (at least 1)."""
    return next(d for d in range(min(at_most, n), 0, -1) if n % d == 0)
