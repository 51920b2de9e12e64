"""Worker processes: who is alive, on which device, doing what. The operator sees every
worker; any other key sees only the workers running its own tenant's work."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.auth import Principal, PrincipalDep
from api.core.persistence import workers
from api.core.persistence.db import session_scope
from api.core.persistence.tables import utcnow
from api.deps import SettingsDep
from api.schemas.workers import WorkerOut, WorkerTask

router = APIRouter(prefix="/v1/workers", tags=["workers"])

RECENT = timedelta(hours=1)  # stopped or silent workers stay listed this long


def _workers(database_url: str, principal: Principal) -> list[WorkerOut]:
    now = utcnow()
    # The operator's session spans every tenant; a tenant's sees its own leased rows only.
    tenant = None if principal.operator else principal.tenant_id
    with session_scope(database_url, tenant=tenant) as session:
        tasks = workers.current_tasks(session)
        rows = workers.list_workers(session, since=now - RECENT)
        alive_after = workers.alive_after(now)
        return [
            WorkerOut(
                id=row.id,
                host=row.host,
                pid=row.pid,
                queue=row.queue,
                device=row.device,
                device_name=row.device_name,
                device_memory_bytes=row.device_memory_bytes,
                started_at=row.started_at,
                last_heartbeat_at=row.last_heartbeat_at,
                alive=row.stopped_at is None and row.last_heartbeat_at >= alive_after,
                stopped_at=row.stopped_at,
                stop_reason=row.stop_reason,
                tasks_done=row.tasks_done,
                current_tasks=[WorkerTask(kind=t.kind, id=t.id) for t in tasks.get(row.id, [])],
            )
            for row in rows
            if principal.operator or row.id in tasks
        ]


@router.get("", response_model=list[WorkerOut])
async def list_workers(settings: SettingsDep, principal: PrincipalDep) -> list[WorkerOut]:
    """Worker processes seen in the last hour, newest first.

    Each: alive (a heartbeat within 15 s) or not, its device, what it holds a lease on now
    and how many tasks it has finished."""
    return await run_in_threadpool(_workers, settings.resolved_database_url, principal)
