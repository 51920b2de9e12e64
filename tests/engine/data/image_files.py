"""Tiny image files written with Pillow, for the data tests."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def random_image(
    width: int = 12, height: int = 10, mode: str = "RGB", seed: int = 0
) -> Image.Image:
    """Uniform noise in any Pillow mode ("P" is quantised to 16 colours)."""
    rng = np.random.default_rng(seed)
    if mode == "RGBA":
        return Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8), "RGBA")
    rgb = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")
    if mode == "P":
        return rgb.quantize(colors=16)
    return rgb.convert(mode)


def write_image(
    path: Path, width: int = 12, height: int = 10, mode: str = "RGB", seed: int = 0
) -> Path:
    """Save a random image at ``path`` (format from the suffix), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    random_image(width, height, mode, seed).save(path)
    return path


def write_truncated(path: Path) -> Path:
    """Save the first half of a valid 24 x 24 image at ``path``."""
    write_image(path, 24, 24, seed=1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def png_header_only(width: int, height: int) -> bytes:
    """A PNG declaring width x height pixels with almost no data behind them: what a
    decompression bomb looks like before it is decoded."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
