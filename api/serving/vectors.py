"""Embedding vectors as the response carries them: JSON floats or base64 float32, and the
response body encoded once."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Literal

from fastapi import Response
from pydantic import BaseModel

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


def json_response(body: BaseModel) -> Response:
    """``body`` encoded by pydantic's own (compiled) serializer, in one pass. A route that
    returns its model instead has FastAPI validate it again and encode it with the
    standard library: about 0.25 ms of CPU for one 512-float vector, against 0.04 ms."""
    return Response(body.model_dump_json(), media_type="application/json")
