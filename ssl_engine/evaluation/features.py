"""Frozen features: a method's embeddings of a uint8 image tensor, in eval mode."""

from __future__ import annotations

import torch
from torch import Tensor

from ssl_engine.acceleration import autocast_to
from ssl_engine.data.rows import Images, as_image_rows
from ssl_engine.methods.base import Method
from ssl_engine.precision import Precision

FEATURE_BATCH = 256  # images embedded at once; memory, not accuracy, sets it


def embed_uint8(
    method: Method,
    images: Images,
    device: torch.device,
    batch_size: int = FEATURE_BATCH,
    precision: Precision = "fp32",
) -> Tensor:
    """(N, 3, S, S) uint8 images (CPU, possibly memory-mapped) -> (N, D) float32 on device,
    computed at ``precision`` (bf16 or fp16: under autocast, as served).

    ``images`` may be ``ImageRows`` (rows of a cache): each chunk then reads only its rows.

    Runs ``method.embed`` in eval mode (BatchNorm uses its running statistics, so an
    image's embedding does not depend on its batch) and restores the previous mode.
    """
    if images.ndim != 4 or images.shape[1] != 3 or images.dtype != torch.uint8:
        raise ValueError(f"images must be (N, 3, S, S) uint8, got {images.dtype} {images.shape}")
    was_training = method.training
    method.eval()
    try:
        with torch.inference_mode(), autocast_to(device, precision):
            chunks = [
                method.embed(_pixels(chunk, device)).float()  # (b, D)
                for chunk in as_image_rows(images).chunks(batch_size)
            ]
    finally:
        method.train(was_training)
    return torch.cat(chunks)  # (N, D)


def _pixels(chunk: Tensor, device: torch.device) -> Tensor:
    """(b, 3, S, S) uint8 -> float32 in [0, 1] on ``device``, stored channels_last (the
    layout conv weights are kept in on the fast path)."""
    pixels = chunk.to(device, memory_format=torch.channels_last).float()  # (b, 3, S, S)
    return pixels.div_(255)
