"""Decode a dataset once into a (N, 3, S, S) uint8 array on disk, memory-mapped after.

Small images (CIFAR-sized) decode far slower than a GPU trains on them, so the data is
decoded, resized and centre-cropped once (``formats.load_square``) and stored as a
``.npy`` file named by a hash of the root, the file list, every file's size and
modification time, and the image size: any change to the data gives a new file. Both
cache files are written under temporary names and renamed into place, the ``.npy``
last, so a crash never leaves a half-written cache that looks complete.

Files that fail to decode are skipped. ``CachedImages.kept`` maps each cached row to its
index in ``files``, so per-file values (labels) stay aligned: ``cached.select(labels)``.

The cache keeps within ``max_cache_bytes`` by evicting the least recently used entries
that no process is using (``cache_budget``); the entry just built or reused is in use for
as long as its images tensor lives.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

from ssl_engine.data.cache_budget import evict_to_budget, hold
from ssl_engine.data.formats import MAX_PIXELS, ImageDecodeError, UnreadableFile, load_square

CACHE_FORMAT_VERSION = 1  # bump when the decoding or the file layout changes
DECODE_THREADS = min(8, os.cpu_count() or 1)  # Pillow decodes and resizes without the GIL
COPY_CHUNK = 1024  # rows copied at a time when compacting out failed files

T = TypeVar("T")


@dataclass(frozen=True)
class CachedImages:
    """The decoded images and how they line up with the requested file list."""

    images: Tensor  # (N_kept, 3, S, S) uint8, backed by the memory-mapped cache file
    kept: list[int]  # kept[i] = index in ``files`` of row i of ``images``
    failed: list[UnreadableFile]  # files that could not be decoded, in file order
    path: Path  # the .npy file

    def select(self, per_file: Sequence[T]) -> list[T]:
        """Values given per input file (e.g. labels) -> the values of the kept rows."""
        return [per_file[index] for index in self.kept]


def cache_key(root: Path, files: Sequence[str], image_size: int) -> str:
    """Hash of everything the cached pixels depend on."""
    digest = hashlib.sha256()
    header = {"version": CACHE_FORMAT_VERSION, "root": str(root.resolve()), "size": image_size}
    digest.update(json.dumps(header, sort_keys=True).encode())
    for name in files:
        try:
            stat = (root / name).stat()
            signature = f"{stat.st_size}:{stat.st_mtime_ns}"
        except OSError:
            signature = "missing"
        digest.update(f"\n{name}\0{signature}".encode())
    return digest.hexdigest()[:32]


def build_uint8_cache(
    root: Path,
    files: Sequence[str],
    image_size: int,
    cache_dir: Path,
    max_pixels: int = MAX_PIXELS,
    max_cache_bytes: int = 0,
) -> CachedImages:
    """Decode ``files`` (relative to ``root``) into a cache in ``cache_dir``, or reuse it;
    then evict other entries past ``max_cache_bytes`` (0: no budget)."""
    if image_size < 1:
        raise ValueError(f"image_size must be >= 1, got {image_size}")
    root, cache_dir = Path(root), Path(cache_dir)
    key = cache_key(root, files, image_size)
    images_path, meta_path = cache_dir / f"{key}.npy", cache_dir / f"{key}.json"
    cached = _load(images_path, meta_path, files, image_size)
    if cached is None:
        cached = _build(root, files, image_size, cache_dir, key, max_pixels)
    hold(cached.path, owner=cached.images)
    evict_to_budget(cache_dir, max_cache_bytes)
    return cached


def _build(
    root: Path, files: Sequence[str], image_size: int, cache_dir: Path, key: str, max_pixels: int
) -> CachedImages:
    """Decode into temporaries, then rename them into place as entry ``key``."""
    images_path, meta_path = cache_dir / f"{key}.npy", cache_dir / f"{key}.json"
    cache_dir.mkdir(parents=True, exist_ok=True)
    temporaries: list[Path] = []
    try:
        raw_path = _temporary(cache_dir, key, temporaries)
        raw = np.lib.format.open_memmap(
            raw_path, mode="w+", dtype=np.uint8, shape=(len(files), 3, image_size, image_size)
        )  # (N, 3, S, S)
        failures = _decode_into(raw, root, files, max_pixels)
        final_path = raw_path
        if failures:
            final_path = _temporary(cache_dir, key, temporaries)
            _compact(raw, sorted(failures), final_path)
        raw.flush()
        del raw

        meta_tmp = _temporary(cache_dir, key, temporaries)
        meta = {
            "num_files": len(files),
            "failed": sorted(failures.items()),
            "root": str(root.resolve()),
        }
        meta_tmp.write_text(json.dumps(meta))
        os.replace(meta_tmp, meta_path)
        os.replace(final_path, images_path)
    finally:
        for path in temporaries:
            path.unlink(missing_ok=True)

    loaded = _load(images_path, meta_path, files, image_size)
    if loaded is None:
        raise RuntimeError(f"cache {images_path} is unreadable right after writing it")
    return loaded


def _temporary(cache_dir: Path, key: str, registry: list[Path]) -> Path:
    """A fresh hidden file in cache_dir, remembered so it is removed if left over."""
    handle, name = tempfile.mkstemp(dir=cache_dir, prefix=f".{key}.", suffix=".tmp")
    os.close(handle)
    registry.append(Path(name))
    return registry[-1]


def _decode_into(
    rows: np.ndarray, root: Path, files: Sequence[str], max_pixels: int
) -> dict[int, str]:
    """Decode file i into rows[i] for every i; returns {index: reason} of the failures."""
    size = rows.shape[-1]

    def decode(index: int) -> str | None:
        try:
            rows[index] = load_square(root / files[index], size, max_pixels)  # (3, S, S)
        except (ImageDecodeError, OSError) as error:
            return str(error)
        return None

    with ThreadPoolExecutor(max_workers=DECODE_THREADS) as pool:
        reasons = list(pool.map(decode, range(len(files))))
    return {index: reason for index, reason in enumerate(reasons) if reason is not None}


def _compact(raw: np.ndarray, failed: list[int], path: Path) -> None:
    """Write the rows of ``raw`` not listed in ``failed`` to a new .npy at ``path``."""
    keep = np.setdiff1d(np.arange(raw.shape[0]), np.asarray(failed, dtype=np.int64))
    out = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.uint8, shape=(len(keep), *raw.shape[1:])
    )  # (N_kept, 3, S, S)
    for start in range(0, len(keep), COPY_CHUNK):
        chunk = keep[start : start + COPY_CHUNK]
        out[start : start + len(chunk)] = raw[chunk]
    out.flush()


def _load(
    images_path: Path, meta_path: Path, files: Sequence[str], size: int
) -> CachedImages | None:
    """The cache when both files exist and agree with the request, else None."""
    if not (images_path.exists() and meta_path.exists()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        failed_at = {int(index): str(reason) for index, reason in meta["failed"]}
        # Copy-on-write mapping: pages load lazily, the file is never modified, and the
        # array is writable so torch.from_numpy shares it without complaint.
        array = np.load(images_path, mmap_mode="c")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    kept = [index for index in range(len(files)) if index not in failed_at]
    expected_shape = (len(kept), 3, size, size)
    if meta.get("num_files") != len(files) or array.shape != expected_shape:
        return None
    if array.dtype != np.uint8:
        return None
    failed = [UnreadableFile(path=files[i], reason=failed_at[i]) for i in sorted(failed_at)]
    return CachedImages(images=torch.from_numpy(array), kept=kept, failed=failed, path=images_path)
