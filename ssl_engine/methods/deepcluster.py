"""DeepCluster (v2): cluster the whole dataset, then learn to predict each image's cluster.

Caron, Bojanowski, Joulin and Douze, "Deep Clustering for Unsupervised Learning of Visual
Features", ECCV 2018 (arXiv:1807.05520), in the improved form "DeepCluster-v2" of Caron
et al., "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments",
NeurIPS 2020 (arXiv:2006.09882, appendix): L2-normalised projections, spherical k-means,
and a classifier whose weights are the k-means centroids themselves, so nothing has to
be re-learned when the clusters are renumbered at the next epoch.

Energy view: a joint-embedding method whose collapse is prevented by clustering. The
targets are k-means pseudo-labels of the whole dataset, computed with the network frozen
at the start of every epoch; two views of an image must both land in its cluster. E(x, y)
is the cosine distance of the backbone features.

    epoch start: every image -> backbone -> projector -> z (N, P) -> k-means -> labels (N,),
                 centroids (K, P) become the prototypes
    each step:   2 views -> backbone -> h -> projector -> z = normalise (B, P)
                 loss = cross-entropy(z C^T / t, label of the image) for both views

The first epoch's clusters come from the randomly initialised network, as in v2. Items
without a label yet (a step taken before any ``on_epoch_start``) are labelled with their
nearest prototype. A dataset smaller than K gets N clusters, and only those prototypes
are scored. Not reproduced: v2's three clusterings with separate heads (one here)
and multi-crop.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from ssl_engine.augment import TwoViews
from ssl_engine.augment.presets import simclr_config
from ssl_engine.heads import mlp
from ssl_engine.kmeans import spherical_kmeans
from ssl_engine.losses.clustering import cluster_classification_loss
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

UNASSIGNED = -1  # pseudo-label of an image no clustering has seen yet


class DeepClusterHyperparameters(Hyperparameters):
    """DeepCluster-v2's knobs; the paper's values, cluster count as in CIFAR recipes."""

    num_clusters: int = Field(
        3000,
        ge=2,
        le=100_000,
        description=(
            "k of k-means (v2: 3000 on ImageNet, which solo-learn's CIFAR recipe keeps). "
            "Capped at the dataset size."
        ),
    )
    temperature: float = fields.temperature(
        0.1, "Softmax temperature over prototype scores (v2: 0.1)."
    )
    kmeans_iterations: int = Field(
        10, ge=1, le=1000, description="Lloyd iterations per clustering (v2: 10)."
    )
    projection_dim: int = fields.width(128, "Projection (and centroid) size (v2: 128).", le=4096)
    projection_hidden_dim: int = fields.width(
        2048, "Hidden size of the projection head (v2: 2048)."
    )


class DeepCluster(JointEmbeddingMethod):
    """Backbone + projector classified against k-means centroids refreshed every epoch."""

    name = "deepcluster"
    collapse_prevention = CollapsePrevention.CLUSTERING
    summary = (
        "Clusters the whole dataset with k-means at every epoch and trains the network "
        "to classify both views of each image into its cluster (DeepCluster-v2)."
    )
    paper = (
        "Caron, Bojanowski, Joulin, Douze. Deep Clustering for Unsupervised Learning of "
        "Visual Features. ECCV 2018. arXiv:1807.05520; v2: Caron et al., NeurIPS 2020, "
        "arXiv:2006.09882"
    )
    hyperparameters_model = DeepClusterHyperparameters
    # v2 trains with LARS at batch 4096 (lr 0.3 per 256 images, weight decay 1e-6). At
    # single-GPU batch sizes on CIFAR, SGD with lr 0.06 per 256 and weight decay 5e-4
    # (the recipe SimCLR and SwAV use here) is the safer, well-tested choice.
    optimizer_defaults = OptimizerDefaults(name="sgd", lr=0.06, weight_decay=5e-4)

    prototypes: Tensor
    pseudo_labels: Tensor
    num_active: Tensor

    def __init__(
        self, *, backbone: str, image_size: int, hparams: DeepClusterHyperparameters
    ) -> None:
        super().__init__()
        self.hparams = hparams
        self._set_backbone(backbone, image_size)
        self.projector = mlp(self.embed_dim, hparams.projection_hidden_dim, hparams.projection_dim)
        # Buffers, not parameters: v2 sets the classifier to the centroids and does not
        # train it. The label buffer is sized by the dataset at the first epoch start.
        prototypes = F.normalize(torch.randn(hparams.num_clusters, hparams.projection_dim), dim=1)
        self.register_buffer("prototypes", prototypes)  # (K, P)
        self.register_buffer("pseudo_labels", torch.empty(0, dtype=torch.long))  # (N,)
        # Prototypes in use: k < K when the dataset has fewer than K images. Unused rows
        # stay out of the softmax, where they would only be pushed away from everything.
        self.register_buffer("num_active", torch.tensor(hparams.num_clusters))
        self.register_load_state_dict_pre_hook(_resize_pseudo_labels)
        self.views = TwoViews(simclr_config(image_size))

    def _project(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 3, H, W) -> backbone features (B, D) and unit projections (B, P)."""
        h = self.backbone(images)  # (B, D)
        return h, F.normalize(self.projector(h), dim=1)  # (B, D), (B, P)

    @torch.no_grad()
    def on_epoch_start(self, context: EpochContext) -> None:
        """k-means on the projections of every image; centroids become the prototypes."""
        was_training = self.training
        self.eval()  # BatchNorm running statistics, no augmentation: a fixed snapshot
        projections, positions = [], []
        for images, indices in context.iterate_dataset():
            projections.append(self._project(images)[1].float())  # (b, P)
            positions.append(indices)  # (b,)
        self.train(was_training)
        z = torch.cat(projections)  # (N, P)
        clusters = min(self.hparams.num_clusters, len(z))
        result = spherical_kmeans(z, clusters, iterations=self.hparams.kmeans_iterations)
        labels = torch.full((context.dataset_size,), UNASSIGNED, dtype=torch.long, device=z.device)
        labels[torch.cat(positions).to(z.device)] = result.assignments
        self.pseudo_labels = labels  # (N,)
        self.prototypes[:clusters] = result.centroids.to(self.prototypes.device)  # (k, P)
        self.num_active.fill_(clusters)

    def training_step(self, batch: Batch) -> StepOutput:
        batch_size = batch.images.shape[0]
        views = self.views(batch.images)  # (2B, 3, S, S)
        h, z = self._project(views)  # (2B, D), (2B, P)
        scores = z @ self.prototypes[: int(self.num_active)].T  # (2B, k)
        labels = self._labels(batch.indices, scores[:batch_size].detach())  # (B,)
        loss = cluster_classification_loss(
            scores, labels.repeat(2), temperature=self.hparams.temperature
        )
        return StepOutput(
            loss=loss,
            metrics={"loss_cluster_classification": loss.item()},
            embeddings=h[:batch_size].detach(),  # (B, D) first views
        )

    def _labels(self, indices: Tensor, scores: Tensor) -> Tensor:
        """(B,) dataset indices -> (B,) pseudo-labels; unseen items take their best prototype."""
        nearest = scores.argmax(dim=1)  # (B,)
        size = len(self.pseudo_labels)
        if size == 0:
            return nearest
        stored = self.pseudo_labels[indices.clamp(max=size - 1)]  # (B,)
        assigned = (indices < size) & (stored != UNASSIGNED)  # (B,)
        return torch.where(assigned, stored, nearest)  # (B,)


def _resize_pseudo_labels(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, *_: Any
) -> None:
    """Let a checkpoint's label buffer, sized by its dataset, load into a fresh model."""
    saved = state_dict.get(prefix + "pseudo_labels")
    if isinstance(module, DeepCluster) and saved is not None:
        module.pseudo_labels = torch.full_like(
            saved, UNASSIGNED, device=module.pseudo_labels.device
        )
