"""Dataset-embedding rows: queued by the API, claimed and finished by a worker.

Each change of state is one conditional UPDATE on the status it expects, so a duplicate
message or a second worker finds nothing to claim.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.persistence.models import DatasetEmbedding, JobStatus, utcnow

S = JobStatus


def create_embedding(session: Session, *, model_id: str, dataset_id: str) -> DatasetEmbedding:
    row = DatasetEmbedding(
        model_id=model_id, dataset_id=dataset_id, status=S.QUEUED, item_count=0, stats={}
    )
    session.add(row)
    session.flush()
    return row


def get_embedding(session: Session, embedding_id: str) -> DatasetEmbedding | None:
    return session.get(DatasetEmbedding, embedding_id)


def list_for_model(session: Session, model_id: str) -> list[DatasetEmbedding]:
    """A model's dataset embeddings, newest first."""
    query = (
        select(DatasetEmbedding)
        .where(DatasetEmbedding.model_id == model_id)
        .order_by(DatasetEmbedding.created_at.desc(), DatasetEmbedding.id)
    )
    return list(session.scalars(query).all())


def latest_succeeded(
    session: Session, model_id: str, dataset_id: str | None = None
) -> DatasetEmbedding | None:
    """The newest finished embedding of the model (of ``dataset_id`` when given)."""
    query = select(DatasetEmbedding).where(
        DatasetEmbedding.model_id == model_id, DatasetEmbedding.status == S.SUCCEEDED
    )
    if dataset_id is not None:
        query = query.where(DatasetEmbedding.dataset_id == dataset_id)
    query = query.order_by(DatasetEmbedding.finished_at.desc(), DatasetEmbedding.id).limit(1)
    return session.scalars(query).first()


def claim(session: Session, embedding_id: str) -> bool:
    """queued -> running; False when another delivery or worker got there first."""
    result = session.execute(
        update(DatasetEmbedding)
        .where(DatasetEmbedding.id == embedding_id, DatasetEmbedding.status == S.QUEUED)
        .values(status=S.RUNNING, started_at=utcnow())
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def succeed(session: Session, embedding_id: str, **fields: Any) -> bool:
    """running -> succeeded with the index's fields (item_count, dim, index_kind, path, stats)."""
    return _finish(session, embedding_id, status=S.SUCCEEDED, **fields)


def fail(session: Session, embedding_id: str, reason: str) -> bool:
    """running -> failed with ``reason``."""
    return _finish(session, embedding_id, status=S.FAILED, failure_reason=reason)


def _finish(session: Session, embedding_id: str, **values: Any) -> bool:
    result = session.execute(
        update(DatasetEmbedding)
        .where(DatasetEmbedding.id == embedding_id, DatasetEmbedding.status == S.RUNNING)
        .values(finished_at=utcnow(), **values)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]
