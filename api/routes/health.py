"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from celery import Celery
from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from api.core.persistence.db import get_engine
from api.deps import CeleryDep, SettingsDep

router = APIRouter(tags=["health"])


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


@router.get("/ready")
async def ready(settings: SettingsDep, celery: CeleryDep) -> JSONResponse:
    """Ready when the database and the broker answer; 503 names what does not."""
    database = await run_in_threadpool(_check_database, settings.resolved_database_url)
    broker = await run_in_threadpool(_check_broker, celery)
    checks = {"database": database or "ok", "broker": broker or "ok"}
    if database or broker:
        body = {"code": "not_ready", "message": "a dependency is unreachable", "details": checks}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready", "checks": checks})


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
