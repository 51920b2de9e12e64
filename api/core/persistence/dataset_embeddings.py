"""Dataset-embedding rows: queued by the API, claimed and finished by a worker.

Claims, leases and the end of a row are ``api.core.persistence.model_tasks``'s, shared with
linear probes.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.persistence import rows
from api.core.persistence.tables import DatasetEmbedding, JobStatus


def create_embedding(session: Session, *, model_id: str, dataset_id: str) -> DatasetEmbedding:
    row = DatasetEmbedding(
        model_id=model_id, dataset_id=dataset_id, status=JobStatus.QUEUED, item_count=0, stats={}
    )
    return rows.insert(session, row)


def get_embedding(session: Session, embedding_id: str) -> DatasetEmbedding | None:
    return session.get(DatasetEmbedding, embedding_id)


def list_for_model(session: Session, model_id: str) -> list[DatasetEmbedding]:
    """A model's dataset embeddings, newest first."""
    return rows.of_model_newest_first(session, DatasetEmbedding, model_id)


def ids_by_model(session: Session, model_ids: Iterable[str]) -> dict[str, list[str]]:
    """The dataset embeddings' ids of each of ``model_ids`` (absent: none)."""
    query = select(DatasetEmbedding.model_id, DatasetEmbedding.id).where(
        DatasetEmbedding.model_id.in_(set(model_ids))
    )
    found: dict[str, list[str]] = {}
    for model_id, embedding_id in session.execute(query):
        found.setdefault(model_id, []).append(embedding_id)
    return found


def latest_succeeded(
    session: Session, model_id: str, dataset_id: str | None = None
) -> DatasetEmbedding | None:
    """The newest finished embedding of the model (of ``dataset_id`` when given)."""
    query = select(DatasetEmbedding).where(
        DatasetEmbedding.model_id == model_id, DatasetEmbedding.status == JobStatus.SUCCEEDED
    )
    if dataset_id is not None:
        query = query.where(DatasetEmbedding.dataset_id == dataset_id)
    query = query.order_by(DatasetEmbedding.finished_at.desc(), DatasetEmbedding.id).limit(1)
    return session.scalars(query).first()
