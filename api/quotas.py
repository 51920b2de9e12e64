"""Per-tenant limits: queued + running work (training jobs, probes, dataset embeddings),
the running time of a job, and bytes stored."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.core.persistence.api_keys import get_tenant
from api.core.persistence.tenancy import session_tenant
from api.core.persistence.work import count_active_work, lock_tenant
from api.core.settings import Settings
from api.core.storage import tenant_bytes
from api.errors import ApiError, validation_error


def check_work_quota(session: Session, settings: Settings) -> None:
    """429 when the tenant already has its limit of unfinished work.

    The tenant stays locked until the request's transaction commits the new row, so
    concurrent submissions are counted one after the other, never against the same count.
    """
    tenant_id = session_tenant(session)
    assert tenant_id is not None, "quotas apply to a tenant's session"
    lock_tenant(session, tenant_id)
    tenant = get_tenant(session, tenant_id)
    limit = (tenant.max_active_jobs if tenant else None) or settings.max_active_jobs_per_tenant
    active = count_active_work(session)
    if active >= limit:
        raise ApiError(
            429,
            "quota_exceeded",
            f"tenant {tenant_id!r} has {active} queued or running jobs, probes and dataset "
            f"embeddings; the limit is {limit}. Wait for some to finish or cancel some.",
            {"active": active, "limit": limit},
            headers={"Retry-After": "30"},
        )


def job_wall_seconds(session: Session, settings: Settings, requested: int | None) -> int:
    """The running time a new job gets: what it asks for (422 above the tenant's cap, or
    the server's), else the server default within the cap."""
    tenant_id = session_tenant(session)
    tenant = get_tenant(session, tenant_id) if tenant_id else None
    cap = (tenant.max_wall_seconds if tenant else None) or settings.max_job_wall_seconds
    if requested is None:
        return min(settings.job_wall_seconds, cap)
    if requested > cap:
        raise validation_error(
            [{"field": "max_wall_seconds", "message": f"at most {cap} s for this tenant"}]
        )
    return requested


def storage_limit(session: Session, settings: Settings, tenant_id: str) -> int | None:
    """The tenant's storage limit in bytes, or None for no limit."""
    tenant = get_tenant(session, tenant_id)
    limit = (tenant.max_storage_bytes if tenant else None) or settings.max_storage_bytes_per_tenant
    return limit or None


def check_storage_quota(session: Session, settings: Settings, tenant_id: str) -> None:
    """429 ``storage_quota_exceeded`` once the tenant stores its limit or more."""
    limit = storage_limit(session, settings, tenant_id)
    if limit is None:
        return
    used = tenant_bytes(settings, tenant_id)
    if used >= limit:
        raise ApiError(
            429,
            "storage_quota_exceeded",
            f"tenant {tenant_id!r} stores {used} bytes; the limit is {limit}. Delete models, "
            "jobs or datasets (DELETE /v1/...) to make room.",
            {"stored_bytes": used, "limit": limit},
        )
