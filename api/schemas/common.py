"""Shapes shared by several resources."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class ErrorResponse(BaseModel):
    code: str
    message: str
    details: object | None = None


# An ``responses=`` entry for a route's extra error statuses, e.g. ``{403: ERROR}``.
ERROR: dict[str, Any] = {"model": ErrorResponse}


class ORMModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
