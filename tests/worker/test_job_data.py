"""A job's images: unreadable files are skipped and counted, too many of them fail the job."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.image_folders import make_image_folder
from tests.worker.broken_images import add_broken_images, break_every_image
from worker.job_data import JobInputError, load_job_images


def test_broken_files_are_skipped_and_named(tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=8, labeled=False)
    broken = add_broken_images(folder, 3)  # 3 of 35 files

    data = load_job_images(folder, 16, tmp_path / "cache", max_bad_fraction=0.1)

    assert tuple(data.images.shape) == (32, 3, 16, 16)
    assert sorted(f.path for f in data.skipped) == broken
    assert all(f.reason for f in data.skipped)
    assert not set(broken) & set(data.files)


def test_more_broken_files_than_allowed_fail_naming_the_counts(tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=2, labeled=False)  # 8 good
    add_broken_images(folder, 2)  # 2 of 10 = 20%

    with pytest.raises(JobInputError, match=r"2 of 10 images .* \(20%\).*FRACTION=0.1"):
        load_job_images(folder, 16, tmp_path / "cache", max_bad_fraction=0.1)
    assert load_job_images(folder, 16, tmp_path / "cache", max_bad_fraction=0.2).total == 10


def test_a_folder_of_only_broken_files_fails_with_a_clear_reason(tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=2, labeled=True)
    count = break_every_image(folder)

    with pytest.raises(JobInputError, match=f"no readable image: all {count} files"):
        load_job_images(folder, 16, tmp_path / "cache", max_bad_fraction=1.0)


def test_a_missing_folder_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(JobInputError, match="no longer exists"):
        load_job_images(tmp_path / "gone", 16, tmp_path / "cache", max_bad_fraction=0.1)
