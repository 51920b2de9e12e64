"""What every table's persistence module does the same way: insert, page, list by model."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

Row = TypeVar("Row")


def insert(session: Session, row: Row) -> Row:
    """Add ``row`` and flush, so its id and defaults are set."""
    session.add(row)
    session.flush()
    return row


def newest_first_page(
    session: Session, table: type[Row], *criteria: Any, limit: int, offset: int
) -> tuple[list[Row], int]:
    """A page of ``table``'s rows the session sees (matching ``criteria``), newest first,
    and their total count."""
    created_at: Any = table.created_at  # type: ignore[attr-defined]
    total = session.scalar(select(func.count()).select_from(table).where(*criteria)) or 0
    query = select(table).where(*criteria).order_by(created_at.desc()).limit(limit).offset(offset)
    return list(session.scalars(query).all()), total


def of_model_newest_first(session: Session, table: type[Row], model_id: str) -> list[Row]:
    """Rows of ``table`` (probes, dataset embeddings) made for ``model_id``, newest first."""
    columns: Any = table
    query = (
        select(table)
        .where(columns.model_id == model_id)
        .order_by(columns.created_at.desc(), columns.id)
    )
    return list(session.scalars(query).all())
