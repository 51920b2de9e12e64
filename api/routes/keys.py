"""API keys: who am I (any key); create, list and revoke keys (admin scope)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.auth import PrincipalDep
from api.core.persistence import api_keys
from api.deps import AdminSessionDep
from api.errors import not_found
from api.schemas.common import ERROR
from api.schemas.keys import TENANT_PATTERN, Identity, KeyCreate, KeyCreated, KeyOut

router = APIRouter(tags=["keys"])
ADMIN: dict[int | str, dict[str, Any]] = {403: ERROR}  # a key without the admin scope


@router.get("/v1/me", response_model=Identity)
def whoami(principal: PrincipalDep) -> Identity:
    """The tenant and scope of the key making this request."""
    return Identity(
        tenant=principal.tenant_id, key_prefix=principal.key_prefix, admin=principal.admin
    )


@router.post("/v1/keys", response_model=KeyCreated, status_code=201, responses=ADMIN)
def create_key(body: KeyCreate, session: AdminSessionDep) -> KeyCreated:
    """A new key for a tenant (the tenant is created if needed); the key is shown once."""
    created = api_keys.create_key(session, body.tenant, name=body.name, admin=body.admin)
    return KeyCreated(**KeyOut.model_validate(created.row).model_dump(), key=created.secret)


@router.get("/v1/keys", response_model=list[KeyOut], responses=ADMIN)
def list_keys(
    session: AdminSessionDep,
    tenant: Annotated[str | None, Query(pattern=TENANT_PATTERN)] = None,
) -> list[KeyOut]:
    """Every key (prefix only, never the key), optionally of one tenant."""
    return [KeyOut.model_validate(k) for k in api_keys.list_keys(session, tenant)]


@router.delete("/v1/keys/{key_id}", response_model=KeyOut, responses=ADMIN)
def revoke_key(key_id: str, session: AdminSessionDep) -> KeyOut:
    """Revoke a key by id or prefix: its next request is a 401. Revoking twice is a no-op."""
    key = api_keys.find_key(session, key_id)
    if key is None:
        raise not_found("key", key_id)
    api_keys.revoke_key(session, key.id)
    session.refresh(key)
    return KeyOut.model_validate(key)
