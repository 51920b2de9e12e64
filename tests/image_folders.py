"""Small generated image folders for API and integration tests (no ../shared needed)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

# Four visually distinct classes: a base colour plus a class-specific stripe pattern.
CLASS_COLOURS = {
    "red": (200, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 60, 200),
    "yellow": (220, 200, 40),
}


def make_image(class_index: int, seed: int, size: int = 24) -> Image.Image:
    rng = np.random.default_rng(seed)
    colour = np.array(list(CLASS_COLOURS.values())[class_index % len(CLASS_COLOURS)])
    pixels = np.tile(colour, (size, size, 1)).astype(np.float64)
    period = 2 + class_index  # stripes of a class-specific width
    stripes = (np.arange(size) // period) % 2 == 0
    pixels[stripes, :, :] *= 0.5
    pixels += rng.normal(0, 12, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def make_image_folder(
    root: Path, *, per_class: int = 8, classes: int = 4, size: int = 24, labeled: bool = True
) -> Path:
    """Write ``classes * per_class`` images (PNG and JPEG mixed) and return ``root``."""
    names = list(CLASS_COLOURS)[:classes]
    for c, name in enumerate(names):
        folder = root / name if labeled else root
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = make_image(c, seed=c * 1000 + i, size=size)
            suffix = "png" if i % 2 else "jpg"
            image.save(folder / f"{name}_{i:03d}.{suffix}")
    return root


def image_bytes(class_index: int = 0, seed: int = 0, size: int = 24, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    make_image(class_index, seed, size).save(buffer, format=fmt)
    return buffer.getvalue()


def zip_folder(root: Path) -> bytes:
    """A zip of every file under ``root``, named by its path relative to it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()
