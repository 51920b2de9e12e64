"""Probes and dataset embeddings hold a lease like jobs: a lost worker's row is queued
again (bounded attempts), a lost message is sent again, and a replaced worker records
nothing (the worker in-process, SQLite)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from api.core.persistence import evaluations, model_tasks
from api.core.persistence.db import session_scope
from api.core.persistence.tables import LOCAL_TENANT, Evaluation, JobStatus, utcnow
from api.core.settings import Settings
from api.reconciler import reconcile_once
from tests.image_folders import make_image_folder
from tests.worker.test_evaluate import queued_evaluation
from worker import evaluate as evaluate_module
from worker.evaluate import run_evaluation

EXPIRED = timedelta(seconds=-1)


class SentMessages:
    """Stands in for the Celery app: records (task, row id) it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send_task(self, name: str, args: list[str], **_options: Any) -> None:
        self.sent.append((name, args[0]))


@pytest.fixture
def evaluation_id(settings: Settings, tmp_path: Path) -> str:
    folder = make_image_folder(tmp_path / "images", per_class=4)
    return queued_evaluation(settings, folder, tmp_path)[0]


def row(settings: Settings, evaluation_id: str) -> Evaluation:
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        found = evaluations.get_evaluation(session, evaluation_id)
        assert found is not None
        return found


def claim(settings: Settings, evaluation_id: str, owner: str, lease: timedelta) -> bool:
    with session_scope(settings.resolved_database_url, tenant=None) as session:
        return model_tasks.claim(session, Evaluation, evaluation_id, owner, lease)


def test_only_the_lease_holder_renews_and_ends_the_row(
    settings: Settings, evaluation_id: str
) -> None:
    url = settings.resolved_database_url
    assert claim(settings, evaluation_id, "w1", timedelta(minutes=1))
    assert not claim(settings, evaluation_id, "w2", timedelta(minutes=1))  # still held
    with session_scope(url, tenant=None) as session:
        assert model_tasks.renew(session, Evaluation, evaluation_id, "w1", timedelta(minutes=1))
        assert not model_tasks.renew(session, Evaluation, evaluation_id, "w2", timedelta(1))
        assert not model_tasks.finish(session, Evaluation, evaluation_id, "w2", JobStatus.FAILED)
        assert model_tasks.finish(session, Evaluation, evaluation_id, "w1", JobStatus.FAILED)
    assert row(settings, evaluation_id).attempts == 1


def test_a_lost_workers_probe_is_queued_again_then_fails_after_its_attempts(
    settings: Settings, evaluation_id: str
) -> None:
    settings = settings.model_copy(update={"max_job_attempts": 2})
    sent = SentMessages()
    assert claim(settings, evaluation_id, "w1", EXPIRED)
    assert reconcile_once(settings, sent) == [evaluation_id]  # type: ignore[arg-type]
    assert sent.sent == [("sslpt.evaluate", evaluation_id)]
    again = row(settings, evaluation_id)
    assert (again.status, again.lease_owner, again.attempts) == (JobStatus.QUEUED, None, 1)

    assert claim(settings, evaluation_id, "w2", EXPIRED)
    assert reconcile_once(settings, sent) == []  # type: ignore[arg-type]
    failed = row(settings, evaluation_id)
    assert failed.status == JobStatus.FAILED
    assert failed.failure_reason == (
        "lease of w2 expired on attempt 2 of 2; giving up (SSLPT_MAX_JOB_ATTEMPTS)"
    )


def test_a_probe_nobody_claimed_is_sent_again_once_per_wait(
    settings: Settings, evaluation_id: str
) -> None:
    settings = settings.model_copy(update={"requeue_waiting_after_seconds": 60})
    sent = SentMessages()
    assert reconcile_once(settings, sent) == []  # type: ignore[arg-type]  # just queued
    with session_scope(settings.resolved_database_url, tenant=None) as session:
        stale = utcnow() - timedelta(minutes=5)
        session.execute(update(Evaluation).values(queued_at=stale))
    assert reconcile_once(settings, sent) == [evaluation_id]  # type: ignore[arg-type]
    assert reconcile_once(settings, sent) == []  # type: ignore[arg-type]  # stamped
    assert run_evaluation(settings, evaluation_id) == JobStatus.SUCCEEDED


def test_a_replaced_worker_records_nothing(
    settings: Settings, evaluation_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_probe = evaluate_module._probe

    def probe_then_lose_the_lease(*args: Any) -> Any:
        result = real_probe(*args)
        with session_scope(settings.resolved_database_url, tenant=None) as session:
            session.execute(update(Evaluation).values(lease_owner="another-worker"))
        return result

    monkeypatch.setattr(evaluate_module, "_probe", probe_then_lose_the_lease)
    assert run_evaluation(settings, evaluation_id) is None
    kept = row(settings, evaluation_id)
    assert (kept.status, kept.top1, kept.lease_owner) == (JobStatus.RUNNING, None, "another-worker")
