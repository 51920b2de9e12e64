"""Engine and session factory, one per process and database URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from api.core.persistence.tenancy import scope_to_tenant


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout for API + worker access."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@lru_cache(maxsize=8)
def get_session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


def open_session(url: str, *, tenant: str | None) -> Session:
    """A new session that sees ``tenant``'s rows only, or every tenant's when None.

    The tenant is a required argument so that every caller says which it means: request
    handlers pass the key's tenant; the worker and the reconciler pass None.
    """
    return scope_to_tenant(get_session_factory(url)(), tenant)


@contextmanager
def session_scope(url: str, *, tenant: str | None) -> Iterator[Session]:
    """A session (see ``open_session``) that commits on success and rolls back on error."""
    session = open_session(url, tenant=tenant)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
