"""A job's images: scanned, decoded once into the uint8 cache, bad files skipped and counted.

A dataset is scanned again when its job starts (files may have changed since it was
registered). Files that cannot be read or decoded, truncated ones included, are skipped;
the job fails only when their share exceeds ``max_bad_fraction``
(``SSLPT_MAX_BAD_IMAGE_FRACTION``), so a few broken files never cost a run but a folder
that is mostly broken is reported instead of trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from api.core.settings import Settings
from ssl_engine.data.cache import build_uint8_cache
from ssl_engine.data.formats import UnreadableFile
from ssl_engine.data.rows import Images
from ssl_engine.data.scan import scan_image_folder

LISTED_SKIPPED = 5  # names quoted in a message; the count is always complete


class JobInputError(Exception):
    """The job cannot run as submitted (e.g. its dataset has too few readable images)."""


@dataclass(frozen=True)
class JobImages:
    # (N, 3, S, S) uint8, memory-mapped from the cache. Typed as ``Images`` because the
    # parts cut from it (``hold_out_for_knn``) are ``ImageRows`` of it, never copies.
    images: Images
    files: list[str]  # (N,) relative path of each row
    labels: list[int] | None  # (N,) class index of each row when the folder is labeled
    classes: list[str]  # class names in label order; empty when unlabeled
    skipped: list[UnreadableFile]  # unreadable at scan or at decode, in file order

    @property
    def total(self) -> int:
        return len(self.files) + len(self.skipped)


def load_job_images(
    root: Path, image_size: int, cache_dir: Path, max_bad_fraction: float, max_cache_bytes: int = 0
) -> JobImages:
    """The decoded images of ``root``; JobInputError when too many are unreadable. The
    cache entry is held (never evicted) while the images are in use."""
    if not root.is_dir():
        raise JobInputError(f"dataset folder {root} no longer exists")
    scan = scan_image_folder(root)
    cached = build_uint8_cache(
        root, scan.files, image_size, cache_dir, max_cache_bytes=max_cache_bytes
    )
    loaded = JobImages(
        images=cached.images,
        files=cached.select(scan.files),
        labels=None if scan.labels is None else cached.select(scan.labels),
        classes=scan.classes,
        skipped=[*scan.unreadable, *cached.failed],
    )
    _check_bad_fraction(root, loaded, max_bad_fraction)
    return loaded


def dataset_images(settings: Settings, root: Path, image_size: int) -> JobImages:
    """``load_job_images`` with the service's cache folder, cache budget and the share of
    unreadable files it tolerates."""
    return load_job_images(
        root,
        image_size,
        settings.cache_dir,
        settings.max_bad_image_fraction,
        settings.image_cache_max_bytes,
    )


def _check_bad_fraction(root: Path, loaded: JobImages, max_bad_fraction: float) -> None:
    bad, total = len(loaded.skipped), loaded.total
    if total == 0:
        raise JobInputError(f"dataset folder {root} holds no image file")
    if bad == total:
        raise JobInputError(
            f"dataset at {root} has no readable image: all {total} files are unreadable "
            f"({describe_skipped(loaded.skipped)})"
        )
    if bad / total > max_bad_fraction:
        raise JobInputError(
            f"{bad} of {total} images in {root} are unreadable ({bad / total:.0%}), more than "
            f"SSLPT_MAX_BAD_IMAGE_FRACTION={max_bad_fraction:g} allows "
            f"({describe_skipped(loaded.skipped)})"
        )


def describe_skipped(skipped: list[UnreadableFile]) -> str:
    """'a.jpg: why; b.png: why; and 7 more' for messages and events."""
    named = "; ".join(f"{file.path}: {file.reason}" for file in skipped[:LISTED_SKIPPED])
    more = len(skipped) - LISTED_SKIPPED
    return f"{named}; and {more} more" if more > 0 else named
