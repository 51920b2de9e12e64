"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging
from typing import Annotated

from celery import Celery
from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError

from api.auth import BEARER, lookup_key, unauthorized
from api.core.persistence import workers
from api.core.persistence.db import get_engine, session_scope
from api.core.persistence.tables import utcnow
from api.deps import CeleryDep, SettingsDep
from api.service_metrics import ServiceCollector

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/health")
def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


def _check_database(url: str) -> str | None:
    try:
        with get_engine(url).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        return f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
    return None


def _check_broker(celery: Celery) -> str | None:
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:
        return f"{type(error).__name__}: {str(error)[:200]}"
    return None


def _workers_summary(url: str) -> dict[str, object]:
    """How many workers are alive, and why none is, when none is."""
    with session_scope(url, tenant=None) as session:
        alive = workers.count_alive(session, utcnow())
    window = workers.HEARTBEAT_SECONDS * workers.ALIVE_PERIODS
    reason = None if alive else f"no worker has sent a heartbeat in the last {window:g} s"
    return {"alive": alive, "down_reason": reason}


@router.get("/ready")
async def ready(settings: SettingsDep, celery: CeleryDep) -> JSONResponse:
    """Ready when the database and the broker answer; 503 names what does not.

    ``workers`` says how many workers are alive (no live worker does not make the API
    unready: jobs are accepted and wait)."""
    database = await run_in_threadpool(_check_database, settings.resolved_database_url)
    broker = await run_in_threadpool(_check_broker, celery)
    checks = {"database": database or "ok", "broker": broker or "ok"}
    if database or broker:
        body = {"code": "not_ready", "message": "a dependency is unreachable", "details": checks}
        return JSONResponse(body, status_code=503)
    summary = await run_in_threadpool(_workers_summary, settings.resolved_database_url)
    return JSONResponse({"status": "ready", "checks": checks, "workers": summary})


@router.get("/metrics", include_in_schema=False)
def metrics(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> Response:
    """Prometheus text format: this process's HTTP and serving series, and the service's
    (``api.service_metrics``); per-tenant series only with the operator's key."""
    operator = False
    if credentials is not None:
        principal = lookup_key(settings, credentials.credentials)
        if principal is None:
            raise unauthorized("invalid_api_key", "the API key is unknown or revoked")
        operator = principal.operator
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(settings, per_tenant=operator))
    try:
        service = generate_latest(registry)
    except (OperationalError, InterfaceError):  # the database is down: say so, serve the rest
        log.warning("service metrics skipped: database unreachable", exc_info=True)
        service = b"# service metrics unavailable: database unreachable\n"
    return Response(generate_latest() + service, media_type=CONTENT_TYPE_LATEST)
