"""Rows of trained models (one per succeeded job)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.core.persistence.tables import TrainedModel


def create_model(session: Session, **fields: Any) -> TrainedModel:
    model = TrainedModel(**fields)
    session.add(model)
    session.flush()
    return model


def get_model(session: Session, model_id: str) -> TrainedModel | None:
    return session.get(TrainedModel, model_id)


def list_models(session: Session, *, limit: int, offset: int) -> tuple[list[TrainedModel], int]:
    total = session.scalar(select(func.count()).select_from(TrainedModel)) or 0
    query = (
        select(TrainedModel).order_by(TrainedModel.created_at.desc()).limit(limit).offset(offset)
    )
    return list(session.scalars(query).all()), total
