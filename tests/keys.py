"""API keys for tests: created straight in the database, as ``sslpt keys create`` does."""

from __future__ import annotations

from api.core.persistence import api_keys
from api.core.persistence.db import session_scope
from api.core.settings import Settings


def create_key(
    settings: Settings, tenant: str = "team-a", *, admin: bool = False, operator: bool = False
) -> str:
    with session_scope(settings.resolved_database_url, tenant=None) as session:
        created = api_keys.create_key(session, tenant, name="test", admin=admin, operator=operator)
        return created.secret


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
