"""Weighted k-nearest-neighbour classification of embeddings.

The evaluation of Wu, Xiong, Yu and Lin, "Unsupervised Feature Learning via
Non-Parametric Instance Discrimination", CVPR 2018 (section 3.4), which lightly's and
solo-learn's benchmarks report: every query takes its k most similar bank embeddings
(cosine similarity s), each votes for its class with weight exp(s / t), and the class with
the largest total wins. k = 200 and t = 0.1 are the values of that paper and of lightly's
CIFAR-10 table, so numbers computed here are comparable with theirs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

KNN_K = 200
KNN_TEMPERATURE = 0.1
QUERY_CHUNK = 1024  # queries scored at once: bounds the (chunk, N) similarity matrix


def _check(query: Tensor, bank: Tensor, bank_labels: Tensor, num_classes: int) -> None:
    if query.ndim != 2 or bank.ndim != 2 or query.shape[1] != bank.shape[1]:
        raise ValueError(
            f"query and bank must be (Q, D) and (N, D), got {tuple(query.shape)} and "
            f"{tuple(bank.shape)}"
        )
    if bank.shape[0] == 0:
        raise ValueError("the bank is empty")
    if bank_labels.shape != (bank.shape[0],):
        raise ValueError(f"bank_labels must be ({bank.shape[0]},), got {tuple(bank_labels.shape)}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")


def knn_class_scores(
    query: Tensor,
    bank: Tensor,
    bank_labels: Tensor,
    num_classes: int,
    k: int = KNN_K,
    temperature: float = KNN_TEMPERATURE,
) -> Tensor:
    """(Q, D) queries, (N, D) bank, (N,) labels -> (Q, C) summed vote weights per class.

    k is clamped to N. Embeddings need not be normalised; the similarity is cosine.
    """
    _check(query, bank, bank_labels, num_classes)
    if k < 1 or temperature <= 0:
        raise ValueError(f"k must be >= 1 and temperature > 0, got k={k}, t={temperature}")
    k = min(k, bank.shape[0])
    bank = F.normalize(bank.float(), dim=1)  # (N, D)
    labels = bank_labels.long().to(bank.device)  # (N,)
    scores = []
    for chunk in F.normalize(query.float(), dim=1).split(QUERY_CHUNK):  # (q, D)
        similarity = chunk @ bank.T  # (q, N) cosine similarities
        top_similarity, top_index = similarity.topk(k, dim=1)  # (q, k)
        weights = (top_similarity / temperature).exp()  # (q, k)
        votes = torch.zeros(chunk.shape[0], num_classes, device=bank.device)  # (q, C)
        scores.append(votes.scatter_add_(1, labels[top_index], weights))
    return torch.cat(scores)  # (Q, C)


def knn_top1(
    query: Tensor,
    query_labels: Tensor,
    bank: Tensor,
    bank_labels: Tensor,
    num_classes: int,
    k: int = KNN_K,
    temperature: float = KNN_TEMPERATURE,
) -> float:
    """Fraction of queries whose weighted-kNN class is their label, in [0, 1]."""
    if query_labels.shape != (query.shape[0],) or query.shape[0] == 0:
        raise ValueError(f"need (Q,) query labels with Q >= 1, got {tuple(query_labels.shape)}")
    scores = knn_class_scores(query, bank, bank_labels, num_classes, k, temperature)  # (Q, C)
    predicted = scores.argmax(dim=1)  # (Q,)
    return (predicted == query_labels.to(predicted.device)).float().mean().item()
