"""Worker processes, as ``GET /v1/workers`` shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class WorkerTask(BaseModel):
    kind: str = Field(description="job, ingest, evaluation or dataset_embedding")
    id: str


class WorkerOut(BaseModel):
    id: str = Field(description="host:pid, the name its leases are held under")
    host: str
    pid: int
    queue: str
    device: str = Field(description="cpu, or cuda:N")
    device_name: str | None = Field(None, description="The GPU's name, on a GPU")
    device_memory_bytes: int | None = None
    started_at: datetime
    last_heartbeat_at: datetime
    alive: bool = Field(description="A heartbeat within the last three periods (15 s)")
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    tasks_done: int
    current_tasks: list[WorkerTask] = Field(
        description="What it holds a lease on now (for a tenant's key: that tenant's only)"
    )
