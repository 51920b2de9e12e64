"""How a job ends when its input or its run goes bad (the worker in-process, SQLite)."""

from __future__ import annotations

import dataclasses
import errno
import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from api.core.artifacts import checkpoints_dir
from api.core.persistence import datasets
from api.core.persistence.db import session_scope
from api.core.persistence.tables import LOCAL_TENANT, JobStatus
from api.core.settings import Settings
from ssl_engine import checkpoint
from ssl_engine.checkpoint import load_latest
from ssl_engine.methods.base import Batch, Method, StepOutput
from tests.image_folders import make_image_folder
from tests.keys import create_key
from tests.worker.broken_images import add_broken_images, break_every_image
from tests.worker.jobs_in_db import events, job_row, submit
from worker import run_job as run_job_module
from worker.run_job import run_job


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_image_folder(tmp_path / "images", per_class=8, labeled=False)  # 32 images


def test_unreadable_files_are_skipped_and_named_in_the_data_ready_event(
    settings: Settings, folder: Path
) -> None:
    broken = add_broken_images(folder, 2)  # 2 of 34: under the default 10%
    job_id = submit(settings, folder)

    assert run_job(settings, job_id) == JobStatus.SUCCEEDED
    (ready,) = [e.reason for e in events(settings, job_id) if e.kind == "data_ready"]
    assert ready.startswith("32 training images at 16px; 0 held out for evaluation; 2 skipped")
    assert all(name in ready for name in broken)


def test_a_dataset_broken_after_registration_fails_the_job_with_the_reason(
    settings: Settings, folder: Path
) -> None:
    job_id = submit(settings, folder)
    count = break_every_image(folder)

    assert run_job(settings, job_id) == JobStatus.FAILED
    reason = job_row(settings, job_id).failure_reason
    assert reason is not None and f"no readable image: all {count} files" in reason


def test_too_many_unreadable_files_fail_the_job(settings: Settings, folder: Path) -> None:
    add_broken_images(folder, 8)  # 8 of 40 = 20%
    job_id = submit(settings, folder)

    assert run_job(settings, job_id) == JobStatus.FAILED
    reason = job_row(settings, job_id).failure_reason
    assert reason is not None and "8 of 40 images" in reason


def nan_loss_from(step: int, build: Callable[..., Method]) -> Callable[..., Method]:
    """``build_method``, but the method's loss turns NaN at its ``step``-th training step."""

    def build_poisoned(*args: Any, **kwargs: Any) -> Method:
        method = build(*args, **kwargs)
        honest, calls = method.training_step, itertools.count(1)

        def training_step(batch: Batch) -> StepOutput:
            output = honest(batch)
            if next(calls) < step:
                return output
            return dataclasses.replace(output, loss=output.loss * float("nan"))

        method.training_step = training_step
        return method

    return build_poisoned


def test_a_non_finite_loss_fails_the_job_naming_the_step(
    settings: Settings, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        run_job_module, "build_method", nan_loss_from(3, run_job_module.build_method)
    )
    job_id = submit(settings, folder)

    assert run_job(settings, job_id) == JobStatus.FAILED
    reason = job_row(settings, job_id).failure_reason
    assert reason is not None and "non-finite loss nan at step 3" in reason


def test_a_full_disk_while_checkpointing_fails_cleanly_and_keeps_the_previous_checkpoint(
    settings: Settings, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save, saves = checkpoint.save_file, itertools.count(1)

    def save_until_the_disk_fills(tensors: Any, path: str) -> None:
        if next(saves) >= 2:
            real_save(tensors, path)  # part of the file reaches the disk, then it is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        real_save(tensors, path)

    monkeypatch.setattr(checkpoint, "save_file", save_until_the_disk_fills)
    job_id = submit(settings, folder, training={"checkpoint_every_steps": 2})

    assert run_job(settings, job_id) == JobStatus.FAILED
    reason = job_row(settings, job_id).failure_reason or ""
    assert reason.startswith("could not write the checkpoint of step 4: [Errno 28] No space")
    assert reason.endswith("; the previous checkpoint is kept")
    checkpoints = checkpoints_dir(settings, LOCAL_TENANT, job_id)
    previous = load_latest(checkpoints)
    assert previous is not None and previous.step == 2
    assert sorted(p.name for p in checkpoints.iterdir()) == ["latest", "step-00000002"]


@pytest.mark.parametrize("which", ["dataset", "evaluation dataset"])
def test_a_dataset_gone_from_the_tenant_fails_the_job_in_its_claim(
    settings: Settings, folder: Path, which: str
) -> None:
    url = settings.resolved_database_url
    create_key(settings, "team-b")  # another tenant, to move a dataset to
    with session_scope(url, tenant=None) as session:
        other = datasets.create_dataset(
            session, tenant_id=LOCAL_TENANT, name="eval", path=str(folder), image_count=0
        )
    job_id = submit(settings, folder, eval_dataset_id=other.id)
    job = job_row(settings, job_id)
    moved = job.dataset_id if which == "dataset" else other.id
    with session_scope(url, tenant=None) as session:
        dataset = datasets.get_dataset(session, moved)
        assert dataset is not None
        dataset.tenant_id = "team-b"

    assert run_job(settings, job_id) == JobStatus.FAILED
    assert job_row(settings, job_id).failure_reason == f"{which} {moved} no longer exists"
    moves = [(e.from_status, e.to_status) for e in events(settings, job_id)]
    assert moves == [
        (None, JobStatus.QUEUED),
        (JobStatus.QUEUED, JobStatus.RUNNING),
        (JobStatus.RUNNING, JobStatus.FAILED),
    ]
