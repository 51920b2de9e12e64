"""Tenants: a tenant admin sees its own tenant; the operator lists every tenant and sets
their limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.auth import AdminDep, operator_required
from api.core.persistence import api_keys
from api.deps import AdminSessionDep
from api.errors import not_found
from api.schemas.common import ERROR
from api.schemas.keys import TENANT_PATTERN, TenantOut, TenantUpsert

# 403: a key without the admin scope, or a change only the operator may make.
router = APIRouter(prefix="/v1/tenants", tags=["tenants"], responses={403: ERROR})
TenantPath = Annotated[str, Path(pattern=TENANT_PATTERN)]


@router.get("", response_model=list[TenantOut])
def list_tenants(session: AdminSessionDep, principal: AdminDep) -> list[TenantOut]:
    """Every tenant for the operator; a tenant admin's own tenant otherwise."""
    tenants = api_keys.list_tenants(session)
    return [TenantOut.model_validate(t) for t in tenants if principal.may_manage(t.id)]


@router.put("/{tenant_id}", response_model=TenantOut)
def upsert_tenant(
    tenant_id: TenantPath, body: TenantUpsert, session: AdminSessionDep, principal: AdminDep
) -> TenantOut:
    """Create a tenant, or set its limit on queued + running work (null: server default).
    The operator's key only."""
    if not principal.may_manage(tenant_id):
        raise not_found("tenant", tenant_id)
    if not principal.operator:
        raise operator_required()
    tenant = api_keys.ensure_tenant(session, tenant_id)
    tenant.max_active_jobs = body.max_active_jobs
    tenant.max_wall_seconds = body.max_wall_seconds
    tenant.max_storage_bytes = body.max_storage_bytes
    session.flush()
    return TenantOut.model_validate(tenant)
