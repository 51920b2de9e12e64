"""Tenants (admin scope): list them, create one or change its job quota."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.core.persistence import api_keys
from api.deps import AdminSessionDep
from api.schemas.common import ERROR
from api.schemas.keys import TENANT_PATTERN, TenantOut, TenantUpsert

# 403: a key without the admin scope.
router = APIRouter(prefix="/v1/tenants", tags=["tenants"], responses={403: ERROR})
TenantPath = Annotated[str, Path(pattern=TENANT_PATTERN)]


@router.get("", response_model=list[TenantOut])
def list_tenants(session: AdminSessionDep) -> list[TenantOut]:
    """Every tenant."""
    return [TenantOut.model_validate(t) for t in api_keys.list_tenants(session)]


@router.put("/{tenant_id}", response_model=TenantOut)
def upsert_tenant(tenant_id: TenantPath, body: TenantUpsert, session: AdminSessionDep) -> TenantOut:
    """Create a tenant, or set its limit on queued + running work (null: server default)."""
    tenant = api_keys.ensure_tenant(session, tenant_id)
    tenant.max_active_jobs = body.max_active_jobs
    session.flush()
    return TenantOut.model_validate(tenant)
