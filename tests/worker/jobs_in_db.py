"""Dataset and job rows written straight to the database, for in-process worker tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.core.persistence import datasets, jobs
from api.core.persistence.db import session_scope
from api.core.persistence.tables import LOCAL_TENANT, Job, JobEvent
from api.core.settings import Settings


def submit(settings: Settings, folder: Path, **overrides: Any) -> str:
    """A queued tiny SimCLR job on ``folder``; returns its id."""
    fields: dict[str, Any] = {
        "method": "simclr",
        "backbone": "tiny_cnn",
        "image_size": 16,
        "epochs": 1,
        "batch_size": 4,
        "seed": 0,
        "hyperparameters": {},
        "training": {},
    }
    fields.update(overrides)
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        dataset = datasets.create_dataset(session, name="d", path=str(folder), image_count=0)
        return jobs.create_job(session, dataset_id=dataset.id, **fields).id


def job_row(settings: Settings, job_id: str) -> Job:
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        job = jobs.get_job(session, job_id)
        assert job is not None
        return job


def events(settings: Settings, job_id: str) -> list[JobEvent]:
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        return jobs.list_events(session, job_id)
