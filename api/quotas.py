"""Per-tenant limit on queued + running work (training jobs, probes, dataset embeddings)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.core.persistence.api_keys import get_tenant
from api.core.persistence.tables import DatasetEmbedding, Evaluation, Job, JobStatus
from api.core.persistence.tenancy import session_tenant
from api.core.settings import Settings
from api.errors import ApiError

S = JobStatus
ACTIVE = (S.QUEUED, S.RUNNING, S.CANCELLING, S.INTERRUPTED)


def active_work(session: Session) -> int:
    """Unfinished jobs, evaluations and dataset embeddings the session's tenant has."""
    total = 0
    for table in (Job, Evaluation, DatasetEmbedding):
        query = select(func.count()).select_from(table).where(table.status.in_(ACTIVE))
        total += session.scalar(query) or 0
    return total


def check_work_quota(session: Session, settings: Settings) -> None:
    """429 when the tenant already has its limit of unfinished work."""
    tenant_id = session_tenant(session)
    assert tenant_id is not None, "quotas apply to a tenant's session"
    tenant = get_tenant(session, tenant_id)
    limit = (tenant.max_active_jobs if tenant else None) or settings.max_active_jobs_per_tenant
    active = active_work(session)
    if active >= limit:
        raise ApiError(
            429,
            "quota_exceeded",
            f"tenant {tenant_id!r} has {active} queued or running jobs, probes and dataset "
            f"embeddings; the limit is {limit}. Wait for some to finish or cancel some.",
            {"active": active, "limit": limit},
            headers={"Retry-After": "30"},
        )
