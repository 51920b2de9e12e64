"""Publishing job ids to the broker (the only thing a message carries)."""

from __future__ import annotations

import logging

from celery import Celery

from api.errors import ApiError

log = logging.getLogger(__name__)

RUN_JOB_TASK = "sslpt.run_job"


def publish_job(celery: Celery, job_id: str) -> None:
    """Send ``job_id`` to the workers; a broker that cannot be reached is a 503."""
    try:
        celery.send_task(
            RUN_JOB_TASK,
            args=[job_id],
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )
    except Exception as error:
        log.warning("publishing job %s failed: %s", job_id, error)
        raise ApiError(503, "broker_unavailable", "the job queue is unreachable") from error
