"""A worker whose lease expired and was taken over can no longer end the job."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from api.core.artifacts import tenant_dir
from api.core.persistence import jobs
from api.core.persistence.db import session_scope
from api.core.persistence.tables import LOCAL_TENANT, JobStatus
from api.core.settings import Settings
from ssl_engine.trainer import TrainResult
from tests.worker.jobs_in_db import job_row, submit
from worker.job_spec import job_spec
from worker.publish_model import publish_model

EXPIRED, HELD = timedelta(seconds=-1), timedelta(seconds=60)


def taken_over(settings: Settings, folder: Path) -> str:
    """A job claimed by worker "old", whose lease ran out, then claimed by "new"."""
    job_id = submit(settings, folder)
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        assert jobs.claim(session, job_id, "old", EXPIRED)
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        assert jobs.claim(session, job_id, "new", HELD)
    return job_id


def test_only_the_lease_holder_moves_the_job(settings: Settings, tmp_path: Path) -> None:
    job_id = taken_over(settings, tmp_path)
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        assert not jobs.transition(session, job_id, JobStatus.FAILED, "old crashed", owner="old")
        assert jobs.transition(session, job_id, JobStatus.SUCCEEDED, "new done", owner="new")


def test_the_old_worker_publishes_no_model_and_leaves_no_files(
    settings: Settings, tmp_path: Path
) -> None:
    job_id = taken_over(settings, tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"weights")
    result = TrainResult(
        completed=True, steps=8, epochs_done=1, last_metrics={}, checkpoint=weights
    )
    with session_scope(settings.resolved_database_url, tenant=None) as session:
        job = jobs.get_job(session, job_id)
        assert job is not None
        spec = job_spec(session, job)

    assert not publish_model(settings, spec, "old", result, embed_dim=64, final_metrics={})
    assert job_row(settings, job_id).status == JobStatus.RUNNING
    assert not list((tenant_dir(settings, LOCAL_TENANT) / "models").iterdir())

    assert publish_model(settings, spec, "new", result, embed_dim=64, final_metrics={})
    job = job_row(settings, job_id)
    assert job.status == JobStatus.SUCCEEDED and job.model_id is not None
    published = tenant_dir(settings, LOCAL_TENANT) / "models" / job.model_id / "model.safetensors"
    assert published.read_bytes() == b"weights"
