"""The broker seam: the Celery app factory and publishing work to the workers.

A message carries one task name and one row id, no more; the database row holds the rest.
The API sends messages by task name and never imports the worker's code; the worker builds
its app here too and registers its tasks on it (``worker.celery_app``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from celery import Celery
from sqlalchemy.orm import Session

from api.core.settings import Settings

log = logging.getLogger(__name__)

QUEUE = "sslpt"  # training jobs, probes, dataset embeddings
GPU_QUEUE = "sslpt-gpu"  # jobs that need a GPU: workers with one consume it besides QUEUE
INGEST_QUEUE = "sslpt-ingest"  # unpacking and scanning datasets: never behind a training job
RUN_JOB_TASK = "sslpt.run_job"
EVALUATE_TASK = "sslpt.evaluate"
EMBED_DATASET_TASK = "sslpt.embed_dataset"
INGEST_TASK = "sslpt.ingest_dataset"
QUEUES = (QUEUE, INGEST_QUEUE)


class BrokerUnavailable(RuntimeError):
    """The broker could not be reached to send a message (the API answers 503)."""


def broker_options(settings: Settings) -> dict[str, Any]:
    """Transport options: kombu's filesystem transport needs its folders spelled out
    (and created, which happens when an app is made, never at import)."""
    if not settings.uses_filesystem_broker:
        return {}
    folder = settings.broker_dir
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),  # kombu's default is ./control
        "store_processed": False,
    }


def create_celery(settings: Settings, include: Sequence[str] = ()) -> Celery:
    """A Celery app for ``settings``' broker; ``include`` names the task modules a worker
    imports (the API's app has none: it only sends)."""
    app = Celery("sslpt", broker=settings.resolved_broker_url, include=list(include))
    app.conf.update(
        broker_transport_options=broker_options(settings),
        broker_connection_retry_on_startup=True,
        # A worker outlives a broker restart of any length: it keeps reconnecting (the
        # job it is training never needed the broker; the database holds its state).
        broker_connection_max_retries=None,
        task_default_queue=QUEUE,
        task_routes={INGEST_TASK: {"queue": INGEST_QUEUE}},
        task_ignore_result=True,  # the database row is the result
        task_acks_late=False,  # a lost job is found by its expired lease, not redelivery
        worker_prefetch_multiplier=1,  # one job per worker process at a time
        worker_hijack_root_logger=False,
        task_serializer="json",
        accept_content=["json"],
    )
    return app


def job_queue(needs_gpu: bool) -> str:
    """The queue a training job's message goes to: only GPU workers read GPU_QUEUE."""
    return GPU_QUEUE if needs_gpu else QUEUE


def publish(celery: Celery, task: str, row_id: str, queue: str | None = None) -> None:
    """Send ``row_id`` to the workers running ``task`` (on ``queue``, else the task's own
    queue); BrokerUnavailable if the broker is unreachable."""
    try:
        celery.send_task(
            task,
            args=[row_id],
            queue=queue,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )
    except Exception as error:
        log.warning("publishing %s(%s) failed: %s", task, row_id, error)
        raise BrokerUnavailable("the job queue is unreachable") from error


class HasId(Protocol):
    id: str


def commit_and_publish(
    session: Session, celery: Celery, task: str, row: HasId, queue: str | None = None
) -> None:
    """Commit the new queued ``row``, then send it; if sending fails, delete it again.

    Never a queued row without a message: the client gets the 503 and nothing was made.
    """
    session.commit()
    try:
        publish(celery, task, row.id, queue)
    except BrokerUnavailable:
        session.delete(row)
        session.commit()
        raise
