"""Dataset rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api.core.persistence import rows
from api.core.persistence.tables import (
    FINISHED_STATUSES,
    Dataset,
    DatasetEmbedding,
    Evaluation,
    Job,
    utcnow,
)


def create_dataset(session: Session, **fields: Any) -> Dataset:
    return rows.insert(session, Dataset(**fields))


def get_dataset(session: Session, dataset_id: str) -> Dataset | None:
    """The dataset, unless it does not exist or was deleted."""
    dataset = session.get(Dataset, dataset_id)
    return None if dataset is None or dataset.deleted_at is not None else dataset


def list_datasets(session: Session, *, limit: int, offset: int) -> tuple[list[Dataset], int]:
    live = Dataset.deleted_at.is_(None)
    return rows.newest_first_page(session, Dataset, live, limit=limit, offset=offset)


def unfinished_uses(session: Session, dataset_id: str) -> list[str]:
    """Work that still needs the dataset: its own ingest, and jobs (training or evaluation
    data), probes and dataset embeddings not finished yet."""
    found = []
    dataset = session.get(Dataset, dataset_id)
    if dataset is not None and dataset.status not in FINISHED_STATUSES:
        found.append(f"ingest {dataset_id}")
    uses = (
        ("job", Job, or_(Job.dataset_id == dataset_id, Job.eval_dataset_id == dataset_id)),
        ("evaluation", Evaluation, Evaluation.dataset_id == dataset_id),
        ("dataset_embedding", DatasetEmbedding, DatasetEmbedding.dataset_id == dataset_id),
    )
    for kind, table, uses_it in uses:
        query = select(table.id).where(uses_it, table.status.not_in(FINISHED_STATUSES))
        found += [f"{kind} {row_id}" for row_id in session.scalars(query)]
    return found


def mark_deleted(session: Session, dataset: Dataset) -> None:
    dataset.deleted_at = utcnow()


def deleted_among(session: Session, dataset_ids: Iterable[str | None]) -> set[str]:
    """Which of ``dataset_ids`` name deleted datasets (work made from them shows so)."""
    wanted = {i for i in dataset_ids if i is not None}
    if not wanted:
        return set()
    query = select(Dataset.id).where(Dataset.id.in_(wanted), Dataset.deleted_at.is_not(None))
    return set(session.scalars(query))
