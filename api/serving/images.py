"""Turning request bytes into model-ready tensors, with 4xx errors that name the input."""

from __future__ import annotations

import base64
import binascii
import io
from typing import TYPE_CHECKING

from api.errors import ApiError

if TYPE_CHECKING:
    import torch


def decode_base64(data: str, name: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ApiError(422, "invalid_base64", f"{name} is not valid base64") from error


def check_request_pixels(items: list[tuple[str, bytes]], max_pixels: int) -> None:
    """413 ``too_many_pixels`` when the images would decode to more than ``max_pixels``
    pixels in all; read from their headers, before any is decoded. An image whose header
    cannot be read is a 422."""
    from ssl_engine.data.formats import ImageDecodeError, open_checked

    total = 0
    for name, data in items:
        try:
            with open_checked(io.BytesIO(data)) as image:
                width, height = image.size
        except ImageDecodeError as error:
            raise ApiError(422, "invalid_image", f"{name}: {error}", {"file": name}) from error
        total += width * height
        if total > max_pixels:
            raise ApiError(
                413,
                "too_many_pixels",
                f"the images of this request have more than {max_pixels} pixels in all; "
                "resize them before sending (the model sees them downscaled anyway)",
                {"max_pixels": max_pixels},
            )


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


def decode_request(
    items: list[tuple[str, bytes]], image_size: int, max_pixels: int
) -> torch.Tensor:
    """``images_to_batch`` after ``check_request_pixels``: (N, 3, S, S)."""
    check_request_pixels(items, max_pixels)
    return images_to_batch(items, image_size)
