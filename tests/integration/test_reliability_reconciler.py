"""The reconciler against real databases (SQLite and PostgreSQL): lost workers, lost
messages, bounded attempts, and one pass at a time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from api.core.persistence import jobs
from api.core.persistence.db import session_scope
from api.core.persistence.migrate import upgrade
from api.core.persistence.tables import LOCAL_TENANT, Job, JobStatus, utcnow
from api.core.settings import Settings
from api.reconciler import exclusive_pass, reconcile_once
from tests.integration.services import POSTGRES_ENV, fresh_postgres_database, required_url
from tests.worker.jobs_in_db import events, job_row, submit

EXPIRED = timedelta(seconds=-1)

pytestmark = pytest.mark.integration


class SentMessages:
    """Stands in for the Celery app: records the job ids it is asked to send."""

    def __init__(self, broker_down: bool = False) -> None:
        self.job_ids: list[str] = []
        self.broker_down = broker_down

    def send_task(self, name: str, args: list[str], **_options: Any) -> None:
        if self.broker_down:
            raise ConnectionError("broker unreachable")
        self.job_ids.append(args[0])


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "sqlite":
        database = Settings(data_dir=tmp_path / "data")
        upgrade(database.resolved_database_url)
        yield database
        return
    with fresh_postgres_database(required_url(POSTGRES_ENV)) as url:
        upgrade(url)
        yield Settings(data_dir=tmp_path / "data", database_url=url)


def claim(settings: Settings, job_id: str, owner: str, lease: timedelta = EXPIRED) -> None:
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        assert jobs.claim(session, job_id, owner, lease)


def transitions(settings: Settings, job_id: str) -> list[tuple[str | None, str]]:
    return [(e.to_status, e.reason) for e in events(settings, job_id) if e.kind == "transition"]


def test_a_lost_worker_s_job_is_requeued_until_its_attempts_run_out(
    settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"max_job_attempts": 2})
    job_id, sent = submit(settings, tmp_path), SentMessages()

    claim(settings, job_id, "w1")
    assert reconcile_once(settings, sent) == [job_id]
    job = job_row(settings, job_id)
    assert (job.status, job.lease_owner, sent.job_ids) == (JobStatus.INTERRUPTED, None, [job_id])

    claim(settings, job_id, "w2")
    assert reconcile_once(settings, sent) == []
    job = job_row(settings, job_id)
    assert job.status == JobStatus.FAILED and sent.job_ids == [job_id]
    assert job.failure_reason == "lease of w2 expired on attempt 2 of 2; giving up " + (
        "(SSLPT_MAX_JOB_ATTEMPTS)"
    )
    assert [status for status, _ in transitions(settings, job_id)] == [
        JobStatus.QUEUED,
        JobStatus.RUNNING,
        JobStatus.INTERRUPTED,
        JobStatus.RUNNING,
        JobStatus.FAILED,
    ]
    reasons = [reason for _, reason in transitions(settings, job_id)]
    assert reasons[1] == "claimed by w1 (attempt 1)" and reasons[3] == "claimed by w2 (attempt 2)"
    assert reasons[2].startswith("lease of w1 expired on attempt 1 of 2; re-queued")


def test_a_lost_worker_s_cancelling_job_ends_cancelled(settings: Settings, tmp_path: Path) -> None:
    job_id = submit(settings, tmp_path)
    claim(settings, job_id, "w1")
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        assert jobs.transition(session, job_id, JobStatus.CANCELLING, "user")

    assert reconcile_once(settings, SentMessages()) == []
    assert job_row(settings, job_id).status == JobStatus.CANCELLED


def test_a_job_waiting_too_long_is_sent_again_once_per_period(
    settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"requeue_waiting_after_seconds": 60.0})
    waiting, fresh, sent = submit(settings, tmp_path), submit(settings, tmp_path), SentMessages()
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        past = utcnow() - timedelta(minutes=5)
        session.execute(update(Job).where(Job.id == waiting).values(updated_at=past))

    assert reconcile_once(settings, sent) == [waiting]
    assert reconcile_once(settings, sent) == []
    assert sent.job_ids == [waiting]
    (requeued,) = [e for e in events(settings, waiting) if e.kind == "requeued"]
    assert requeued.reason == "no worker claimed it for 60s; message sent again"
    assert job_row(settings, waiting).status == JobStatus.QUEUED
    assert not [e for e in events(settings, fresh) if e.kind == "requeued"]


def test_a_broker_outage_leaves_the_job_interrupted_for_a_later_pass(
    settings: Settings, tmp_path: Path
) -> None:
    job_id = submit(settings, tmp_path)
    claim(settings, job_id, "w1")
    assert reconcile_once(settings, SentMessages(broker_down=True)) == [job_id]
    assert job_row(settings, job_id).status == JobStatus.INTERRUPTED


def test_only_one_reconciler_runs_a_pass_at_a_time(settings: Settings, tmp_path: Path) -> None:
    job_id, sent = submit(settings, tmp_path), SentMessages()
    claim(settings, job_id, "w1")
    with (
        session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as other,
        exclusive_pass(other) as held,
    ):
        assert held
        assert reconcile_once(settings, sent) is None
        assert job_row(settings, job_id).status == JobStatus.RUNNING
    assert reconcile_once(settings, sent) == [job_id]
