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

# The largest integer SQLite and PostgreSQL (BIGINT) take: the bound of every integer query
# parameter that reaches SQL (an offset, an id or step to compare with), so that a larger
# one is a 422 rather than a driver overflow (a 500).
MAX_SQL_INT = 2**63 - 1


class ORMModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
