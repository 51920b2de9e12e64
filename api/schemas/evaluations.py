"""Linear-probe evaluation bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import ORMModel


class EvaluationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: str = Field(
        description="A labeled dataset (class sub-folders); its held-out split is scored."
    )


class EvaluationOut(ORMModel):
    id: str
    model_id: str
    dataset_id: str
    status: str = Field(description="queued, running, succeeded or failed.")
    top1: float | None = Field(description="Linear-probe top-1 on the held-out split, in [0, 1].")
    metrics: dict[str, Any]
    failure_reason: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
