"""Rows of trained models (one per succeeded job)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.core.persistence import rows
from api.core.persistence.tables import TrainedModel


def create_model(session: Session, **fields: Any) -> TrainedModel:
    return rows.insert(session, TrainedModel(**fields))


def get_model(session: Session, model_id: str) -> TrainedModel | None:
    return session.get(TrainedModel, model_id)


def list_models(session: Session, *, limit: int, offset: int) -> tuple[list[TrainedModel], int]:
    return rows.newest_first_page(session, TrainedModel, limit=limit, offset=offset)
