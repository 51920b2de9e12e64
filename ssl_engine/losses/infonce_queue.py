"""InfoNCE against a queue of negatives, as in MoCo.

He et al., "Momentum Contrast for Unsupervised Visual Representation Learning", CVPR 2020,
and Chen et al., "Improved Baselines with Momentum Contrastive Learning", 2020 (MoCo v2).
Each query has one positive key (the other view, from the momentum encoder) and K negatives
(keys of earlier batches). As everywhere in this package, a contrastive loss is logits and
labels into a cross-entropy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _full_precision(t: Tensor) -> Tensor:
    """float64 stays float64; anything else (bf16/fp16 under autocast) becomes float32."""
    return t if t.dtype == torch.float64 else t.float()


def infonce_queue_logits(
    query: Tensor, key: Tensor, queue: Tensor, temperature: float
) -> tuple[Tensor, Tensor]:
    """Logits (B, 1 + K) with the positive in column 0, and labels (B,) of zeros.

    query: (B, D) from the online encoder; key: (B, D) positives from the momentum encoder;
    queue: (K, D) negatives. All three are L2-normalised here, so logits are cosine
    similarities divided by the temperature; float32 even under autocast, since bf16 is
    too coarse for similarities divided by a small temperature.
    """
    if query.ndim != 2 or query.shape != key.shape:
        raise ValueError(
            f"query and key must both be (B, D), got {tuple(query.shape)} and {tuple(key.shape)}"
        )
    if queue.ndim != 2 or queue.shape[1] != query.shape[1]:
        raise ValueError(
            f"queue must be (K, D) with D={query.shape[1]}, got shape {tuple(queue.shape)}"
        )
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    with torch.autocast(device_type=query.device.type, enabled=False):
        q = F.normalize(_full_precision(query), dim=1)  # (B, D)
        k = F.normalize(_full_precision(key), dim=1)  # (B, D)
        negatives = F.normalize(_full_precision(queue), dim=1)  # (K, D)
        positive_logits = (q * k).sum(dim=1, keepdim=True)  # (B, 1)
        negative_logits = q @ negatives.T  # (B, K)
        logits = torch.cat([positive_logits, negative_logits], dim=1) / temperature  # (B, 1+K)
    labels = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)  # (B,)
    return logits, labels


def infonce_queue_loss(query: Tensor, key: Tensor, queue: Tensor, temperature: float) -> Tensor:
    """Mean cross-entropy of picking each query's positive key among 1 + K candidates.

    Shapes as in ``infonce_queue_logits``; the caller detaches ``key`` and ``queue``.
    """
    logits, labels = infonce_queue_logits(query, key, queue, temperature)  # (B, 1 + K), (B,)
    return F.cross_entropy(logits, labels)
