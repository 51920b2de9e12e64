"""API keys: who am I (any key); create, list and revoke keys.

A tenant's admin key manages its own tenant's keys: another tenant, or a key of another
tenant, is a 404 to it, exactly as a missing one. The operator's key manages every
tenant's keys and is the only one that may create operator keys.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.auth import AdminDep, PrincipalDep, operator_required
from api.core.persistence import api_keys
from api.core.storage import tenant_bytes
from api.deps import AdminSessionDep, SessionDep, SettingsDep
from api.errors import not_found
from api.quotas import storage_limit
from api.schemas.common import ERROR
from api.schemas.keys import TENANT_PATTERN, Identity, KeyCreate, KeyCreated, KeyOut

router = APIRouter(tags=["keys"])
# 403: a key that may not manage keys, or a grant only the operator may make.
ADMIN: dict[int | str, dict[str, Any]] = {403: ERROR}
NO_STORE = {"Cache-Control": "no-store"}  # a new key must not linger in any cache


@router.get("/v1/me", response_model=Identity)
def whoami(principal: PrincipalDep, session: SessionDep, settings: SettingsDep) -> Identity:
    """The tenant and scope of the key making this request, and its tenant's storage."""
    return Identity(
        tenant=principal.tenant_id,
        key_prefix=principal.key_prefix,
        admin=principal.admin,
        operator=principal.operator,
        stored_bytes=tenant_bytes(settings, principal.tenant_id),
        max_storage_bytes=storage_limit(session, settings, principal.tenant_id),
    )


@router.post("/v1/keys", response_model=KeyCreated, status_code=201, responses=ADMIN)
def create_key(body: KeyCreate, session: AdminSessionDep, principal: AdminDep) -> JSONResponse:
    """A new key of the caller's tenant, or (operator) of any tenant, created if needed.
    The key is shown once."""
    tenant = body.tenant or principal.tenant_id
    if not principal.may_manage(tenant):
        raise not_found("tenant", tenant)
    if body.operator and not principal.operator:
        raise operator_required()
    created = api_keys.create_key(
        session, tenant, name=body.name, admin=body.admin, operator=body.operator
    )
    out = KeyCreated(**KeyOut.model_validate(created.row).model_dump(), key=created.secret)
    return JSONResponse(out.model_dump(mode="json"), status_code=201, headers=NO_STORE)


@router.get("/v1/keys", response_model=list[KeyOut], responses=ADMIN)
def list_keys(
    session: AdminSessionDep,
    principal: AdminDep,
    tenant: Annotated[str | None, Query(pattern=TENANT_PATTERN)] = None,
) -> list[KeyOut]:
    """The keys (prefix only, never the key) the caller manages, optionally of one tenant."""
    if tenant is not None and not principal.may_manage(tenant):
        raise not_found("tenant", tenant)
    if tenant is None and not principal.operator:
        tenant = principal.tenant_id
    return [KeyOut.model_validate(k) for k in api_keys.list_keys(session, tenant)]


@router.delete("/v1/keys/{key_id}", response_model=KeyOut, responses=ADMIN)
def revoke_key(
    key_id: str, session: AdminSessionDep, principal: AdminDep, request: Request
) -> KeyOut:
    """Revoke a key by id or prefix: its next request to this API process is a 401 (to
    another, within ``SSLPT_KEY_RECHECK_SECONDS``). Revoking twice is a no-op."""
    key = api_keys.find_key(session, key_id)
    if key is None or not principal.may_manage(key.tenant_id):
        raise not_found("key", key_id)
    api_keys.revoke_key(session, key.id)
    session.commit()
    request.app.state.known_keys.forget(key.id)
    session.refresh(key)
    return KeyOut.model_validate(key)
