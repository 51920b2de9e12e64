from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from api.core.persistence import jobs
from api.core.persistence.db import session_scope
from api.core.persistence.tables import LOCAL_TENANT, JobStatus
from api.core.settings import Settings
from tests.worker.jobs_in_db import submit


@pytest.fixture
def job_id(settings: Settings) -> str:
    return submit(settings, Path("/x"))


def test_second_claim_of_the_same_job_does_nothing(settings: Settings, job_id: str) -> None:
    url = settings.resolved_database_url
    with session_scope(url, tenant=LOCAL_TENANT) as session:
        assert jobs.claim(session, job_id, "a", timedelta(seconds=60))
    with session_scope(url, tenant=LOCAL_TENANT) as session:
        assert not jobs.claim(session, job_id, "b", timedelta(seconds=60))
        job = jobs.get_job(session, job_id)
        assert job is not None
        assert (job.status, job.lease_owner, job.attempts) == (JobStatus.RUNNING, "a", 1)


def test_expired_lease_can_be_claimed_and_the_old_owner_loses_it(
    settings: Settings, job_id: str
) -> None:
    url = settings.resolved_database_url
    with session_scope(url, tenant=LOCAL_TENANT) as session:
        assert jobs.claim(session, job_id, "a", timedelta(seconds=-1))  # already expired
    with session_scope(url, tenant=LOCAL_TENANT) as session:
        assert jobs.claim(session, job_id, "b", timedelta(seconds=60))
    with session_scope(url, tenant=LOCAL_TENANT) as session:
        assert jobs.renew_lease(session, job_id, "a", timedelta(seconds=60)) is None
        assert jobs.renew_lease(session, job_id, "b", timedelta(seconds=60)) == JobStatus.RUNNING


def test_illegal_transitions_are_refused_and_write_no_event(
    settings: Settings, job_id: str
) -> None:
    url = settings.resolved_database_url
    with session_scope(url, tenant=LOCAL_TENANT) as session:
        assert not jobs.transition(session, job_id, JobStatus.SUCCEEDED, "skip running")
        assert jobs.transition(session, job_id, JobStatus.CANCELLED, "user")
        assert not jobs.transition(
            session, job_id, JobStatus.RUNNING, "finished jobs stay finished"
        )
        events = jobs.list_events(session, job_id)
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, JobStatus.QUEUED),
        (JobStatus.QUEUED, JobStatus.CANCELLED),
    ]


def test_finishing_clears_the_lease_and_stamps_the_time(settings: Settings, job_id: str) -> None:
    url = settings.resolved_database_url
    with session_scope(url, tenant=LOCAL_TENANT) as session:
        jobs.claim(session, job_id, "a", timedelta(seconds=60))
        assert jobs.transition(
            session, job_id, JobStatus.SUCCEEDED, "done", allowed_from={JobStatus.RUNNING}
        )
        job = jobs.get_job(session, job_id)
        assert job is not None
        assert job.lease_owner is None and job.finished_at is not None
        assert job.finished_at.tzinfo is not None
