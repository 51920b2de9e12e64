"""Rows of trained models (one per succeeded job)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.persistence.models import Model


def create_model(session: Session, **fields: Any) -> Model:
    model = Model(**fields)
    session.add(model)
    session.flush()
    return model


def get_model(session: Session, model_id: str) -> Model | None:
    return session.get(Model, model_id)


def list_models(session: Session, *, limit: int, offset: int) -> tuple[list[Model], int]:
    total = session.scalar(select(func.count()).select_from(Model)) or 0
    query = select(Model).order_by(Model.created_at.desc()).limit(limit).offset(offset)
    return list(session.scalars(query).all()), total
