"""Scanning an image folder: which files are images, their labels, and what is broken.

A folder is *labeled* when its root holds only sub-folders (no images directly) and
every image sits exactly one folder deep: the folder names are the classes, sorted
alphabetically (the convention of torchvision's ``ImageFolder``). Any other layout is
unlabeled and searched recursively. Hidden files and folders (names starting with a
dot) are ignored, and folder symlinks are not followed (no cycles).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ssl_engine.data.formats import (
    MAX_PIXELS,
    ImageDecodeError,
    UnreadableFile,
    is_image_name,
    probe_image,
)

# Decoding releases the GIL, so a few threads overlap file reads and decodes.
PROBE_THREADS = min(8, os.cpu_count() or 1)


@dataclass(frozen=True)
class SizeStats:
    """Minimum, maximum and mean of one image dimension, in pixels (zeros when empty)."""

    min: int
    max: int
    mean: float

    @classmethod
    def of(cls, values: Sequence[int]) -> SizeStats:
        if not values:
            return cls(min=0, max=0, mean=0.0)
        return cls(min=min(values), max=max(values), mean=sum(values) / len(values))


@dataclass(frozen=True)
class FolderScan:
    """What ``scan_image_folder`` found. Statistics cover the readable images only."""

    root: Path
    files: list[str]  # POSIX paths relative to root, sorted; readable images only
    labels: list[int] | None  # class index per file, None when unlabeled
    classes: list[str]  # class names in label order; empty when unlabeled
    unreadable: list[UnreadableFile]
    width_stats: SizeStats
    height_stats: SizeStats
    total_bytes: int

    @property
    def labeled(self) -> bool:
        return self.labels is not None


def _find_images(root: Path) -> tuple[list[str], bool]:
    """Relative POSIX paths of every image file under root (sorted), and whether any lies
    directly in root. Folder links are not followed; a file link is kept only if it leads
    to a file inside root, so a link cannot bring in files from elsewhere on the server."""
    found: list[str] = []
    real_root = root.resolve()
    pending = [root]
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file() and is_image_name(entry.name):
                    if entry.is_symlink() and not _leads_inside(Path(entry.path), real_root):
                        continue
                    found.append(Path(entry.path).relative_to(root).as_posix())
    found.sort()
    return found, any("/" not in name for name in found)


def _leads_inside(link: Path, real_root: Path) -> bool:
    return link.resolve().is_relative_to(real_root)


def _probe(root: Path, name: str, max_pixels: int) -> tuple[int, int, int] | str:
    """(width, height, bytes) of a readable image, or why it is unreadable."""
    path = root / name
    try:
        width, height = probe_image(path, max_pixels)
        return width, height, path.stat().st_size
    except (ImageDecodeError, OSError) as error:
        return str(error)


def scan_image_folder(root: Path, max_pixels: int = MAX_PIXELS) -> FolderScan:
    """Find the images under ``root``, check each decodes, and infer class labels."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"dataset root {root} is not a directory")
    names, any_at_top = _find_images(root)
    with ThreadPoolExecutor(max_workers=PROBE_THREADS) as pool:
        results = list(pool.map(lambda name: _probe(root, name, max_pixels), names))

    files: list[str] = []
    unreadable: list[UnreadableFile] = []
    widths: list[int] = []
    heights: list[int] = []
    total_bytes = 0
    for name, result in zip(names, results, strict=True):
        if isinstance(result, str):
            unreadable.append(UnreadableFile(path=name, reason=result))
            continue
        width, height, size = result
        files.append(name)
        widths.append(width)
        heights.append(height)
        total_bytes += size

    labeled = bool(names) and not any_at_top and all(name.count("/") == 1 for name in names)
    classes = sorted({PurePosixPath(name).parts[0] for name in files}) if labeled else []
    class_index = {name: index for index, name in enumerate(classes)}
    labels = [class_index[PurePosixPath(name).parts[0]] for name in files] if labeled else None
    return FolderScan(
        root=root,
        files=files,
        labels=labels,
        classes=classes,
        unreadable=unreadable,
        width_stats=SizeStats.of(widths),
        height_stats=SizeStats.of(heights),
        total_bytes=total_bytes,
    )
