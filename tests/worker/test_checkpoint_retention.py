"""After a job succeeds its published weights are the result: the training checkpoints
are removed, unless the job asked to keep them (``training.keep_checkpoints``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.core.artifacts import checkpoints_dir
from api.core.persistence.tables import LOCAL_TENANT, JobStatus
from api.core.settings import Settings
from tests.image_folders import make_image_folder
from tests.worker.jobs_in_db import submit
from worker.run_job import run_job


@pytest.mark.parametrize("keep", [False, True])
def test_a_succeeded_job_keeps_its_checkpoints_only_if_asked(
    settings: Settings, tmp_path: Path, keep: bool
) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=4, labeled=False)
    training = {"keep_checkpoints": True, "checkpoint_every_steps": 1} if keep else {}
    job_id = submit(settings, folder, epochs=1, training=training)
    assert run_job(settings.model_copy(update={"keep_checkpoints": 3}), job_id) == (
        JobStatus.SUCCEEDED
    )
    folder_of_job = checkpoints_dir(settings, LOCAL_TENANT, job_id)
    if keep:  # four steps, one checkpoint each: the newest three (SSLPT_KEEP_CHECKPOINTS)
        assert len([p for p in folder_of_job.glob("step-*")]) == 3
    else:
        assert not folder_of_job.exists()
