"""Dataset rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.core.persistence import rows
from api.core.persistence.tables import Dataset


def create_dataset(session: Session, **fields: Any) -> Dataset:
    return rows.insert(session, Dataset(**fields))


def get_dataset(session: Session, dataset_id: str) -> Dataset | None:
    return session.get(Dataset, dataset_id)


def list_datasets(session: Session, *, limit: int, offset: int) -> tuple[list[Dataset], int]:
    return rows.newest_first_page(session, Dataset, limit=limit, offset=offset)
