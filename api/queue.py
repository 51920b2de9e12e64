"""Publishing work to the broker: a message carries one task name and one row id, no more."""

from __future__ import annotations

import logging
from typing import Protocol

from celery import Celery
from sqlalchemy.orm import Session

from api.errors import ApiError

log = logging.getLogger(__name__)

RUN_JOB_TASK = "sslpt.run_job"
EVALUATE_TASK = "sslpt.evaluate"
EMBED_DATASET_TASK = "sslpt.embed_dataset"


def publish(celery: Celery, task: str, row_id: str) -> None:
    """Send ``row_id`` to the workers running ``task``; an unreachable broker is a 503."""
    try:
        celery.send_task(
            task,
            args=[row_id],
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )
    except Exception as error:
        log.warning("publishing %s(%s) failed: %s", task, row_id, error)
        raise ApiError(503, "broker_unavailable", "the job queue is unreachable") from error


def publish_job(celery: Celery, job_id: str) -> None:
    publish(celery, RUN_JOB_TASK, job_id)


class HasId(Protocol):
    id: str


def commit_and_publish(session: Session, celery: Celery, task: str, row: HasId) -> None:
    """Commit the new queued ``row``, then send it; if sending fails, delete it again.

    Never a queued row without a message: the client gets the 503 and nothing was made.
    """
    session.commit()
    try:
        publish(celery, task, row.id)
    except ApiError:
        session.delete(row)
        session.commit()
        raise
