"""Reading image files safely: allowed formats, RGB conversion, a pixel-count guard.

Everything that decodes pixels goes through ``load_square`` so the uint8 cache used in
training and the serving path (``decode_image_bytes``) see exactly the same pixels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from torch import Tensor

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
# The only decoders Pillow may use, whatever a file's name says: a GIF, TIFF, PDF or any of
# Pillow's rarer formats renamed .png is refused rather than handed to its decoder.
DECODERS = ("JPEG", "PNG", "WEBP", "BMP")

# The largest image we agree to decode (about 40 megapixels, 120 MB as RGB). It is below
# Pillow's own decompression-bomb threshold (Image.MAX_IMAGE_PIXELS, ~89 MP by default),
# so every image Pillow warns about is refused here too. The check is local to each call:
# Pillow's global settings and the warning filters are never touched, which keeps this
# safe to call from several threads.
MAX_PIXELS = 40_000_000

_DECODE_ERRORS = (
    OSError,  # unreadable, unidentified or truncated files
    ValueError,
    SyntaxError,  # some Pillow plugins raise it for malformed headers
    EOFError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,  # raised when a caller turns warnings into errors
)


class ImageDecodeError(ValueError):
    """The file is not an image we can decode: unreadable, truncated, or too large."""


@dataclass(frozen=True)
class UnreadableFile:
    """A file that was skipped, with why (a human-readable message)."""

    path: str
    reason: str


def is_image_name(name: str) -> bool:
    """Whether a file name has one of the allowed image extensions (any case)."""
    return Path(name).suffix.lower() in IMAGE_EXTENSIONS


def open_checked(source: Path | BinaryIO, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an image lazily (header only) with an allowed decoder, and refuse it if it has
    too many pixels."""
    try:
        image = Image.open(source, formats=DECODERS)
        width, height = image.size
    except _DECODE_ERRORS as error:
        raise ImageDecodeError(f"cannot open image: {error}") from error
    limit = (
        max_pixels if Image.MAX_IMAGE_PIXELS is None else min(max_pixels, Image.MAX_IMAGE_PIXELS)
    )
    if width * height > limit:
        image.close()
        raise ImageDecodeError(
            f"image is {width}x{height} = {width * height} pixels, more than the limit of "
            f"{limit} (possible decompression bomb)"
        )
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB; transparent pixels are composited onto white.

    16-bit grayscale is scaled to 8 bits (Pillow's own conversion would clip it).
    """
    if image.mode == "RGB":
        return image
    if image.mode.startswith("I;16"):
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _decode_rgb(
    source: Path | BinaryIO, max_pixels: int, draft_size: tuple[int, int] | None = None
) -> Image.Image:
    """Open (guarded), decode every pixel and convert to RGB."""
    image = open_checked(source, max_pixels)
    try:
        if draft_size is not None:
            image.draft("RGB", draft_size)  # JPEG only: decode at a reduced DCT scale
        image.load()  # reads the whole file: truncated data fails here
        rgb = to_rgb(image)
    except _DECODE_ERRORS as error:
        image.close()
        raise ImageDecodeError(f"cannot decode image: {error}") from error
    if rgb is not image:
        image.close()
    return rgb


def open_rgb(path: Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode a whole image file to an RGB Pillow image; ``ImageDecodeError`` if we can't."""
    return _decode_rgb(path, max_pixels)


def load_square(
    source: Path | BinaryIO, image_size: int, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Decode, resize the shorter side to ``image_size`` and centre-crop: (3, S, S) uint8.

    The crop and the antialiased bilinear resize happen in one Pillow call (its ``box``
    argument), which equals resize-then-crop up to sub-pixel rounding. JPEGs much larger
    than needed are decoded at a reduced DCT scale first (Pillow's ``draft``), never
    below ``image_size`` on the shorter side.
    """
    if image_size < 1:
        raise ValueError(f"image_size must be >= 1, got {image_size}")
    rgb = _decode_rgb(source, max_pixels, draft_size=(image_size, image_size))
    width, height = rgb.size
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    if (width, height) != (image_size, image_size):
        rgb = rgb.resize(
            (image_size, image_size),
            Image.Resampling.BILINEAR,
            box=(left, top, left + side, top + side),
        )
    return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)  # (3, S, S) view of (S, S, 3)


def decode_image_bytes(data: bytes, image_size: int, max_pixels: int = MAX_PIXELS) -> Tensor:
    """Encoded image bytes (an upload) -> (3, S, S) float32 in [0, 1], as the cache does."""
    import torch  # here, not at the top: scanning folders must not load torch

    pixels = load_square(io.BytesIO(data), image_size, max_pixels)  # (3, S, S) uint8
    return torch.from_numpy(pixels.copy()).float().div_(255)


def probe_image(path: Path, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(width, height) of an image file after checking that all of it decodes.

    Cheaper than a full decode for JPEGs (decoded at 1/8 scale, which still reads every
    byte, so truncation is caught); other formats are decoded in full.
    """
    image = open_checked(path, max_pixels)
    size = image.size
    try:
        image.draft(image.mode, (1, 1))
        image.load()
    except _DECODE_ERRORS as error:
        raise ImageDecodeError(f"cannot decode image: {error}") from error
    finally:
        image.close()
    return size
