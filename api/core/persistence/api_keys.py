"""Tenants and their API keys: create, authenticate, list, revoke.

A key is ``sslpt_`` + 40 random URL-safe characters (240 bits), shown once. The table
keeps its SHA-256 for lookup and its first characters (``prefix``) for people to tell
keys apart; a database dump does not reveal a usable key.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.core.persistence.tables import ApiKey, Tenant, utcnow

KEY_PREFIX = "sslpt_"
PREFIX_LENGTH = len(KEY_PREFIX) + 8
TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
LAST_USED_RESOLUTION = timedelta(minutes=1)  # at most one write per key per minute


@dataclass(frozen=True)
class CreatedKey:
    row: ApiKey
    secret: str  # the key itself: returned once, never stored


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def valid_tenant_name(name: str) -> bool:
    """Tenant names are slugs: they appear in artifact paths."""
    return bool(TENANT_NAME.fullmatch(name))


def get_tenant(session: Session, tenant_id: str) -> Tenant | None:
    return session.get(Tenant, tenant_id)


def ensure_tenant(session: Session, tenant_id: str) -> Tenant:
    if not valid_tenant_name(tenant_id):
        raise ValueError(f"tenant names are lowercase slugs ([a-z0-9_-], 1-64): {tenant_id!r}")
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        tenant = Tenant(id=tenant_id)
        session.add(tenant)
        session.flush()
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.id)).all())


def create_key(
    session: Session,
    tenant_id: str,
    *,
    name: str = "",
    admin: bool = False,
    operator: bool = False,
) -> CreatedKey:
    """A new key of ``tenant_id`` (created if missing)."""
    ensure_tenant(session, tenant_id)
    secret = KEY_PREFIX + secrets.token_urlsafe(30)
    row = ApiKey(
        tenant_id=tenant_id,
        name=name,
        prefix=secret[:PREFIX_LENGTH],
        key_hash=hash_key(secret),
        admin=admin,
        operator=operator,
    )
    session.add(row)
    session.flush()
    return CreatedKey(row=row, secret=secret)


def authenticate(session: Session, secret: str) -> ApiKey | None:
    """The live key whose hash matches ``secret``, its last use stamped; None otherwise."""
    key = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(secret))).first()
    if key is None or key.revoked_at is not None:
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        key.last_used_at = now
    return key


def list_keys(session: Session, tenant_id: str | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if tenant_id is not None:
        query = query.where(ApiKey.tenant_id == tenant_id)
    return list(session.scalars(query).all())


def find_key(session: Session, id_or_prefix: str) -> ApiKey | None:
    """A key by id or by its listed prefix."""
    return session.scalars(
        select(ApiKey).where((ApiKey.id == id_or_prefix) | (ApiKey.prefix == id_or_prefix))
    ).first()


def revoke_key(session: Session, key_id: str) -> bool:
    """Revoke a live key; False if it was already revoked (or does not exist)."""
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
