"""Turning request bytes into model-ready tensors, with 4xx errors that name the input."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from api.errors import ApiError

if TYPE_CHECKING:
    import torch


def decode_base64(data: str, name: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ApiError(422, "invalid_base64", f"{name} is not valid base64") from error


def images_to_batch(items: list[tuple[str, bytes]], image_size: int) -> torch.Tensor:
    """[(name, file bytes)] -> (N, 3, S, S) float in [0, 1]; an undecodable file is a 422."""
    import torch

    from ssl_engine.data.formats import ImageDecodeError, decode_image_bytes

    tensors = []
    for name, data in items:
        try:
            tensors.append(decode_image_bytes(data, image_size))
        except ImageDecodeError as error:
            raise ApiError(422, "invalid_image", f"{name}: {error}", {"file": name}) from error
    return torch.stack(tensors)  # (N, 3, S, S)
