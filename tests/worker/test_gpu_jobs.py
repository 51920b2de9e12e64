"""A worker without a GPU leaves the jobs that need one, and passes their wake-up on to
the GPU workers' queue (the message it consumed may have been the last one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.core.persistence.tables import JobStatus
from api.core.queue import GPU_QUEUE, RUN_JOB_TASK
from api.core.settings import Settings
from tests.image_folders import make_image_folder
from tests.worker.jobs_in_db import job_row, submit
from worker import run_job as run_job_module
from worker.run_job import run_job


def test_a_cpu_worker_leaves_a_gpu_job_and_wakes_the_gpu_workers(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, str, str | None]] = []
    monkeypatch.setattr(
        run_job_module,
        "publish",
        lambda _app, task, row, queue=None: sent.append((task, row, queue)),
    )
    cpu = settings.model_copy(update={"device": "cpu"})
    job_id = submit(cpu, make_image_folder(tmp_path / "images"), needs_gpu=True)

    assert run_job(cpu, job_id) is None
    assert job_row(cpu, job_id).status == JobStatus.QUEUED  # not claimed, not failed
    assert sent == [(RUN_JOB_TASK, job_id, GPU_QUEUE)]


def test_a_cpu_worker_with_nothing_to_do_sends_nothing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[object] = []
    monkeypatch.setattr(run_job_module, "publish", lambda *args, **kwargs: sent.append(args))
    assert run_job(settings.model_copy(update={"device": "cpu"}), "gone") is None
    assert sent == []
