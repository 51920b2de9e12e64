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

    epoch start: every image -> backbone -> projector -> z (N, P) -> k-means, H times
                 (H = ``num_clusterings``, each from its own random start) -> labels
                 (H, N), centroids (H, K, P) become the prototypes of H classifiers
    each step:   2 views -> backbone -> h -> projector -> z = normalise (B, P)
                 loss = mean over the H clusterings of cross-entropy(z C_h^T / t, label_h)
                 for both views

Several clusterings (v2: 3) make the targets less dependent on one k-means run's local
optimum. The first epoch's clusters come from the randomly initialised network, as in
v2. Items without a label yet (a step taken before any ``on_epoch_start``) are labelled
with their nearest prototype. K defaults to min(3000, N / 10): v2's 3,000 clusters are
for ImageNet's 1.28 M images (430 per cluster), and solo-learn's CIFAR recipe keeps 3,000
for 50,000 (17 per cluster); on 5,000 images 3,000 clusters would hold 1.7 images each.
Only the K prototypes in use are scored. Not reproduced: multi-crop.
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
MAX_CLUSTERS = 100_000
DEFAULT_MAX_CLUSTERS = 3000  # v2's K, the default's ceiling
IMAGES_PER_CLUSTER = 10  # the default's floor on images per cluster


def cluster_count(
    wanted: int | None, dataset_size: int, *, per_cluster: int = IMAGES_PER_CLUSTER
) -> int:
    """k-means' K for ``dataset_size`` items: ``wanted``, or when None min(3000, N /
    ``per_cluster``) (at least 2); never more than the dataset size."""
    if wanted is None:
        wanted = max(2, min(DEFAULT_MAX_CLUSTERS, dataset_size // per_cluster))
    return min(wanted, dataset_size)


class DeepClusterHyperparameters(Hyperparameters):
    """DeepCluster-v2's knobs; the paper's values, cluster count as in CIFAR recipes."""

    num_clusters: int | None = Field(
        None,
        ge=2,
        le=MAX_CLUSTERS,
        description=(
            "k of k-means; None: min(3000, dataset size / 10), v2's 3,000 (for ImageNet, "
            "kept by solo-learn's CIFAR recipe) at no fewer than 10 images per cluster. "
            "Capped at the dataset size."
        ),
    )
    num_clusterings: int = Field(
        3, ge=1, le=10, description="k-means runs per epoch, each with its own classifier (v2: 3)."
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
    # solo-learn's CIFAR recipe (lightly has no DeepCluster): LARS with eta 0.02 and
    # clip_lr, lr 0.6 per 256, weight decay 1e-6, 11 warm-up epochs of 1,000. Its cosine
    # ends at 6e-4 rather than 0; here every schedule ends at 0.
    optimizer_defaults = OptimizerDefaults(
        name="lars",
        lr=0.6,
        weight_decay=1e-6,
        trust_coefficient=0.02,
        clip_lr=True,
        warmup_fraction=0.011,
        source="solo-learn scripts/pretrain/cifar/deepclusterv2.yaml: LARS lr 0.6 per 256, "
        "eta 0.02, clip_lr, wd 1e-6, warmup_cosine 11 of 1000 epochs",
    )

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
        # Buffers, not parameters: v2 sets the classifiers to the centroids and does not
        # train them. The label buffer is sized by the dataset at the first epoch start,
        # and the prototypes by the largest K the hyperparameters allow.
        heads, most = hparams.num_clusterings, hparams.num_clusters or DEFAULT_MAX_CLUSTERS
        prototypes = F.normalize(torch.randn(heads, most, hparams.projection_dim), dim=2)
        self.register_buffer("prototypes", prototypes)  # (H, K_max, P)
        self.register_buffer("pseudo_labels", torch.empty(heads, 0, dtype=torch.long))  # (H, N)
        # Prototypes in use: k < K_max for a small dataset. Unused rows stay out of the
        # softmax, where they would only be pushed away from everything.
        self.register_buffer("num_active", torch.tensor(most))
        self.register_load_state_dict_pre_hook(_checkpoint_to_current_shapes)
        self.views = TwoViews(simclr_config(image_size))

    def clusters_for(self, dataset_size: int) -> int:
        """K for a dataset of ``dataset_size`` images (at most the dataset size)."""
        return cluster_count(self.hparams.num_clusters, dataset_size)

    def _project(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 3, H, W) -> backbone features (B, D) and unit projections (B, P)."""
        h = self.backbone(images)  # (B, D)
        return h, F.normalize(self.projector(h), dim=1)  # (B, D), (B, P)

    @torch.no_grad()
    def on_epoch_start(self, context: EpochContext) -> None:
        """k-means on the projections of every image, once per clustering; the centroids
        become the prototypes."""
        was_training = self.training
        self.eval()  # BatchNorm running statistics, no augmentation: a fixed snapshot
        projections, positions = [], []
        for images, indices in context.iterate_dataset():
            projections.append(self._project(images)[1].float())  # (b, P)
            positions.append(indices)  # (b,)
        self.train(was_training)
        z = torch.cat(projections)  # (N, P)
        rows = torch.cat(positions).to(z.device)  # (N,)
        clusters = self.clusters_for(len(z))
        heads = self.hparams.num_clusterings
        labels = torch.full(
            (heads, context.dataset_size), UNASSIGNED, dtype=torch.long, device=z.device
        )  # (H, N)
        for head in range(heads):
            result = spherical_kmeans(z, clusters, iterations=self.hparams.kmeans_iterations)
            labels[head, rows] = result.assignments
            self.prototypes[head, :clusters] = result.centroids.to(self.prototypes.device)
        self.pseudo_labels = labels  # (H, N)
        self.num_active.fill_(clusters)

    def training_step(self, batch: Batch) -> StepOutput:
        batch_size = batch.images.shape[0]
        views = self.views(batch.images)  # (2B, 3, S, S)
        h, z = self._project(views)  # (2B, D), (2B, P)
        losses = []
        for head, prototypes in enumerate(self.prototypes[:, : int(self.num_active)]):
            scores = z @ prototypes.T  # (2B, k)
            labels = self._labels(head, batch.indices, scores[:batch_size].detach())  # (B,)
            losses.append(
                cluster_classification_loss(
                    scores, labels.repeat(2), temperature=self.hparams.temperature
                )
            )
        loss = torch.stack(losses).mean()
        return StepOutput(
            loss=loss,
            metrics={"loss_cluster_classification": loss.item()},
            embeddings=h[:batch_size].detach(),  # (B, D) first views
        )

    def _labels(self, head: int, indices: Tensor, scores: Tensor) -> Tensor:
        """(B,) dataset indices -> (B,) pseudo-labels of clustering ``head``; unseen items
        take their best prototype."""
        nearest = scores.argmax(dim=1)  # (B,)
        size = self.pseudo_labels.shape[1]
        if size == 0:
            return nearest
        stored = self.pseudo_labels[head, indices.clamp(max=size - 1)]  # (B,)
        assigned = (indices < size) & (stored != UNASSIGNED)  # (B,)
        return torch.where(assigned, stored, nearest)  # (B,)


def _checkpoint_to_current_shapes(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, *_: Any
) -> None:
    """Let a checkpoint load into a freshly built model.

    The label buffer is sized by the checkpoint's dataset, so the model's is resized to
    match. Checkpoints written with one clustering (before there were several) hold
    (K, P) prototypes and (N,) labels: each clustering starts from that one, and the next
    epoch start clusters afresh.
    """
    if not isinstance(module, DeepCluster):
        return
    heads = module.hparams.num_clusterings
    prototypes = state_dict.get(prefix + "prototypes")
    if prototypes is not None and prototypes.ndim == 2:  # (K, P)
        state_dict[prefix + "prototypes"] = prototypes.expand(heads, -1, -1).clone()
    labels = state_dict.get(prefix + "pseudo_labels")
    if labels is not None and labels.ndim == 1:  # (N,)
        state_dict[prefix + "pseudo_labels"] = labels.expand(heads, -1).clone()
    labels_sized_like_checkpoint(module, state_dict, prefix)


def labels_sized_like_checkpoint(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, *_: Any
) -> None:
    """A load pre-hook: the ``pseudo_labels`` buffer is sized by the checkpoint's dataset,
    so the module's takes the checkpoint's shape and a freshly built model can load it."""
    labels = state_dict.get(prefix + "pseudo_labels")
    if labels is not None:
        device = module.get_buffer("pseudo_labels").device
        module.register_buffer("pseudo_labels", torch.full_like(labels, UNASSIGNED, device=device))
