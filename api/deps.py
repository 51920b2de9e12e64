"""Request dependencies as ``Annotated`` aliases, so routes read like sentences."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from celery import Celery
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.auth import AdminDep, PrincipalDep
from api.core.persistence.db import session_scope
from api.core.settings import Settings

# Dependencies that only read app.state are ``async``: FastAPI runs a plain ``def``
# dependency on a worker thread, a thread hop per request for nothing.


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def _committed_session(settings: Settings, tenant: str | None) -> Iterator[Session]:
    """Yield a session committed when the handler returns without error.

    A database that cannot be reached is a 503 the client can retry, never a 500
    (``api.errors``).
    """
    with session_scope(settings.resolved_database_url, tenant=tenant) as session:
        yield session


def get_session(settings: SettingsDep, principal: PrincipalDep) -> Iterator[Session]:
    """The request's session, seeing only the caller's tenant (``api.core.persistence.tenancy``)."""
    yield from _committed_session(settings, principal.tenant_id)


# scope="function": commit before the response is sent, so a client that reads right after
# a write sees it, and a failed commit is an error response rather than a lost write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_admin_session(settings: SettingsDep, _admin: AdminDep) -> Iterator[Session]:
    """A session over every tenant, for the key and tenant routes only; each of them checks
    that the caller may manage the tenant it touches (``Principal.may_manage``)."""
    yield from _committed_session(settings, None)


AdminSessionDep = Annotated[Session, Depends(get_admin_session, scope="function")]


async def get_celery(request: Request) -> Celery:
    celery: Celery = request.app.state.celery
    return celery


CeleryDep = Annotated[Celery, Depends(get_celery)]
