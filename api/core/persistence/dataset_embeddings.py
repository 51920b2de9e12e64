"""Dataset-embedding rows: queued by the API, claimed and finished by a worker.

Claims, leases and the end of a row are ``api.core.persistence.model_tasks``'s, shared with
linear probes.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.persistence.tables import DatasetEmbedding, JobStatus

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
