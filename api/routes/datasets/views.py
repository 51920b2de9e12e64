"""A dataset row as the API shows it, and queueing its ingest; shared by the dataset routes."""

from __future__ import annotations

from celery import Celery
from sqlalchemy.orm import Session

from api.core.persistence.tables import Dataset
from api.core.queue import INGEST_TASK, commit_and_publish
from api.schemas.datasets import DatasetOut

MAX_LISTED_UNREADABLE = 100


def dataset_out(dataset: Dataset) -> DatasetOut:
    return DatasetOut(
        id=dataset.id,
        name=dataset.name,
        path=dataset.path,
        state=dataset.state,
        failure_reason=dataset.failure_reason,
        image_count=dataset.image_count,
        labeled=bool(dataset.classes),
        classes=list(dataset.classes),
        class_counts=dict(dataset.class_counts),
        unreadable_count=len(dataset.unreadable),
        unreadable=list(dataset.unreadable[:MAX_LISTED_UNREADABLE]),
        size_stats=dict(dataset.size_stats),
        total_bytes=dataset.total_bytes,
        created_at=dataset.created_at,
        ready_at=dataset.finished_at if dataset.state == "ready" else None,
    )


def queue_ingest(session: Session, celery: Celery, dataset: Dataset) -> DatasetOut:
    """Commit the new ``ingesting`` row and send it to the ingest workers (503 and no row
    if the broker is down)."""
    commit_and_publish(session, celery, INGEST_TASK, dataset)
    return dataset_out(dataset)
