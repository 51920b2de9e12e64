"""Embedding vectors as the response carries them: JSON floats or base64 float32."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from torch import Tensor


def encode_vectors(
    vectors: Tensor, *, normalize: bool, encoding_format: Literal["float", "base64"]
) -> list[list[float]] | list[str]:
    """(N, D) float32 -> N JSON vectors, or N base64 strings of D little-endian float32s."""
    import torch.nn.functional as F

    if normalize:
        vectors = F.normalize(vectors, dim=1)  # (N, D), unit L2 norm
    if encoding_format == "float":
        rows: list[list[float]] = vectors.tolist()
        return rows
    array = vectors.numpy().astype("<f4", copy=False)  # (N, D) little-endian float32
    return [base64.b64encode(row.tobytes()).decode("ascii") for row in array]
