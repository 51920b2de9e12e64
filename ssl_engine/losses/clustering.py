"""Clustering losses: targets come from assignments of embeddings to prototypes.

SwAV (Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster
Assignments", NeurIPS 2020) computes soft, equipartitioned codes with Sinkhorn-Knopp and
predicts the code of one view from the other. DeepCluster (Caron et al., "Deep Clustering
for Unsupervised Learning of Visual Features", ECCV 2018, and its v2 in the SwAV paper)
classifies each image into the k-means cluster it was assigned to.

Scores are always prototype similarities, (B, K): row b, column k is <z_b, c_k>.
Everything runs in float32, even under bf16 autocast: scores divided by epsilon = 0.05
or a temperature of 0.1 span a range bf16 cannot resolve.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def _check_scores(name: str, scores: Tensor) -> None:
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (B, K) matrix, got {tuple(scores.shape)}")


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")


@torch.no_grad()
def sinkhorn_knopp(scores: Tensor, *, epsilon: float = 0.05, iterations: int = 3) -> Tensor:
    """Soft codes Q that follow the scores while spreading the batch over all prototypes.

    SwAV, section 3.1 and eq. (3): Q = Diag(u) exp(scores / epsilon) Diag(v), where the
    scaling vectors are found by alternately normalising Q's prototype marginals to
    B / K (every prototype gets an equal share of the batch) and its sample marginals to
    1. The last normalisation is over samples, so each row of the result is exactly a
    probability distribution over prototypes; the prototype marginals are B / K up to
    the convergence left after ``iterations`` (SwAV uses 3). Done in the log domain so
    no exp(score / epsilon) can overflow or underflow. No gradient flows into codes.

    scores: (B, K) prototype similarities. Returns (B, K) codes, rows summing to 1.
    """
    _check_scores("scores", scores)
    _check_positive("epsilon", epsilon)
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")

    batch_size, num_prototypes = scores.shape
    with torch.autocast(device_type=scores.device.type, enabled=False):
        log_q = scores.float() / epsilon  # (B, K)
        for _ in range(iterations):
            # Each column (prototype) carries mass 1 / K, then each row (sample) 1 / B.
            log_q = log_q - torch.logsumexp(log_q, dim=0, keepdim=True) - math.log(num_prototypes)
            log_q = log_q - torch.logsumexp(log_q, dim=1, keepdim=True) - math.log(batch_size)
        return torch.exp(log_q + math.log(batch_size))  # (B, K), rows sum to 1


def soft_cross_entropy(scores: Tensor, targets: Tensor, *, temperature: float) -> Tensor:
    """Cross-entropy between target distributions and softmax(scores / temperature).

    -1/B sum_b sum_k targets[b, k] * log softmax(scores[b] / temperature)[k]; the
    per-view term of SwAV's eq. (2). Targets are used as given (not detached here).

    scores: (B, K), targets: (B, K) rows on the simplex. Returns a scalar tensor.
    """
    _check_scores("scores", scores)
    if targets.shape != scores.shape:
        raise ValueError(
            f"targets must match scores' shape {tuple(scores.shape)}, got {tuple(targets.shape)}"
        )
    _check_positive("temperature", temperature)
    with torch.autocast(device_type=scores.device.type, enabled=False):
        log_p = F.log_softmax(scores.float() / temperature, dim=1)  # (B, K)
        return -(targets.float() * log_p).sum(dim=1).mean()  # (B,) -> ()


def swapped_prediction_loss(
    scores_a: Tensor,
    scores_b: Tensor,
    codes_a: Tensor,
    codes_b: Tensor,
    *,
    temperature: float,
) -> Tensor:
    """SwAV's swapped prediction, eq. (1): predict each view's code from the other view.

    0.5 * [H(codes_b, softmax(scores_a / t)) + H(codes_a, softmax(scores_b / t))], so
    swapping the two views leaves the value unchanged. Codes are targets; compute them
    with ``sinkhorn_knopp`` (which already blocks their gradient).

    scores_a, scores_b: (B, K) prototype scores of views a and b.
    codes_a, codes_b: (B, K) codes of views a and b. Returns a scalar tensor.
    """
    if scores_b.shape != scores_a.shape:
        raise ValueError(
            f"scores_a and scores_b must have the same shape, got {tuple(scores_a.shape)} "
            f"and {tuple(scores_b.shape)}"
        )
    a_predicts_b = soft_cross_entropy(scores_a, codes_b, temperature=temperature)
    b_predicts_a = soft_cross_entropy(scores_b, codes_a, temperature=temperature)
    return 0.5 * (a_predicts_b + b_predicts_a)


def cluster_classification_loss(scores: Tensor, labels: Tensor, *, temperature: float) -> Tensor:
    """DeepCluster's objective: classify each sample into its pseudo-label's cluster.

    Cross-entropy of softmax(scores / temperature) against hard k-means labels; with
    L2-normalised embeddings and centroids as prototypes this is DeepCluster-v2's loss
    (SwAV paper, appendix; temperature 0.1). The 2018 original is the same with an
    unnormalised linear classifier and temperature 1.

    scores: (B, K) prototype scores, labels: (B,) int64 in [0, K). Returns a scalar.
    """
    _check_scores("scores", scores)
    _check_positive("temperature", temperature)
    if labels.shape != scores.shape[:1] or labels.dtype != torch.int64:
        raise ValueError(
            f"labels must be int64 of shape ({scores.shape[0]},), got "
            f"{labels.dtype} {tuple(labels.shape)}"
        )
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= scores.shape[1]:
        raise ValueError(f"labels must lie in [0, {scores.shape[1]}), got min {low}, max {high}")
    with torch.autocast(device_type=scores.device.type, enabled=False):
        return F.cross_entropy(scores.float() / temperature, labels)  # ()
