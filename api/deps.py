"""Request dependencies as ``Annotated`` aliases, so routes read like sentences."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from celery import Celery
from fastapi import Depends, Request
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from api.errors import ApiError
from api.persistence.db import get_session_factory
from api.settings import Settings


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    """One session per request, committed when the handler returns without error.

    A database that cannot be reached is a 503 the client can retry, never a 500.
    """
    session = get_session_factory(settings.resolved_database_url)()
    try:
        yield session
        session.commit()
    except OperationalError as error:
        session.rollback()
        raise ApiError(503, "database_unavailable", "the database is unreachable") from error
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": commit before the response is sent, so a client that reads right after
# a write sees it, and a failed commit is an error response rather than a lost write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_celery(request: Request) -> Celery:
    celery: Celery = request.app.state.celery
    return celery


CeleryDep = Annotated[Celery, Depends(get_celery)]
