"""Dataset bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import ORMModel


class DatasetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    path: str = Field(min_length=1, max_length=4096, description="A folder on the server.")


DatasetState = Literal["ingesting", "ready", "failed"]


class DatasetOut(ORMModel):
    id: str
    name: str
    path: str
    state: DatasetState = Field(
        description="ingesting: queued or being unpacked and scanned by an ingest worker "
        "(the counts below are 0 until then); ready: usable by jobs, probes and embeddings; "
        "failed: see failure_reason."
    )
    failure_reason: str | None = None
    image_count: int
    labeled: bool
    classes: list[str]
    class_counts: dict[str, int]
    unreadable_count: int
    unreadable: list[dict[str, Any]] = Field(description="The first 100 unreadable files.")
    size_stats: dict[str, Any]
    total_bytes: int
    created_at: datetime
    ready_at: datetime | None = None
