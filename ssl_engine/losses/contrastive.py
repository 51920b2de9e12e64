"""Contrastive losses: pull positive pairs together, push every other pair apart."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def nt_xent_loss(z_a: Tensor, z_b: Tensor, temperature: float) -> Tensor:
    """Normalised temperature-scaled cross-entropy (NT-Xent), averaged over all 2B anchors.

    Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations",
    ICML 2020, eq. (1). Row i of ``z_a`` and row i of ``z_b`` are two views of one image.
    Each of the 2B embeddings is an anchor whose positive is its partner view; the other
    2B - 2 embeddings in the batch are its negatives, and it is never compared to itself.

    Written as a 2B-way classification: logits are cosine similarities / temperature with
    the self-similarity masked out, and the label of anchor i is the index of its partner.
    Computed in float32 even under bf16 autocast: bf16's 8-bit mantissa is too coarse for
    similarities divided by a small temperature and fed to a softmax over the batch.

    z_a, z_b: (B, D) projections of the two views; B >= 2 so that negatives exist.
    Returns a scalar tensor.
    """
    if z_a.ndim != 2 or z_a.shape != z_b.shape:
        raise ValueError(
            f"z_a and z_b must both be (B, D) with the same shape, got "
            f"{tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )
    if z_a.shape[0] < 2:
        raise ValueError(f"NT-Xent needs a batch of at least 2 pairs, got {z_a.shape[0]}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")

    batch_size = z_a.shape[0]
    with torch.autocast(device_type=z_a.device.type, enabled=False):
        z = F.normalize(torch.cat([z_a, z_b]).float(), dim=1)  # (2B, D)
        logits = z @ z.T / temperature  # (2B, 2B)
        self_mask = torch.eye(2 * batch_size, dtype=torch.bool, device=z.device)  # (2B, 2B)
        logits = logits.masked_fill(self_mask, float("-inf"))  # (2B, 2B)
        partner = torch.arange(batch_size, device=z.device)  # (B,)
        labels = torch.cat([partner + batch_size, partner])  # (2B,): a_i <-> b_i
        return F.cross_entropy(logits, labels)
