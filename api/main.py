"""The FastAPI application: routers, error handlers, the model cache and the reconciler."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from api.auth import KnownKeys, get_principal
from api.core.queue import create_celery
from api.core.settings import Settings, get_settings
from api.errors import install_error_handlers
from api.in_flight import InFlightLimit
from api.observability import install_request_metrics
from api.rate_limit import RateLimiter
from api.reconciler import reconcile_forever
from api.request_limits import RequestLimits
from api.routes import (
    dashboard,
    datasets,
    health,
    jobs,
    keys,
    methods,
    models,
    tenants,
    workers,
)
from api.schemas.common import ErrorResponse
from api.serving.setup import install_serving

KEYED_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No API key, or an unknown or revoked one."},
    404: {"model": ErrorResponse, "description": "No such object for this key's tenant."},
    429: {"model": ErrorResponse, "description": "Rate limit or quota; see Retry-After."},
    503: {"model": ErrorResponse, "description": "The database or the queue is unreachable."},
}


DOCS_ASSETS = "/docs-assets"
UNTAGGED = "service"  # the tag of an operation id whose route has no tags


def operation_id(route: APIRoute) -> str:
    """``{tag}-{name}``: the route's first tag and its function's name, e.g. ``jobs-submit_job``.

    Stable (it changes only when a route function is renamed or retagged) and unique
    (tests/api/test_openapi_contract.py), so generated clients keep their method names.
    """
    tag = str(route.tags[0]) if route.tags else UNTAGGED
    return f"{tag}-{route.name}"


def create_app(settings: Settings | None = None, *, run_reconciler: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = (
            asyncio.create_task(reconcile_forever(settings, app.state.celery))
            if run_reconciler
            else None
        )
        yield
        app.state.model_cache.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # /docs and /redoc load Swagger UI and ReDoc from files in the fastapi-offline package,
    # not from a CDN: they work without network access and serve no third-party script.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        title="sslpt",
        version="0.1.0",
        summary="Self-supervised pretraining as a service: submit jobs, serve embeddings.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # 400: a body that is not UTF-8 JSON, or JSON nested too deep (api.request_limits).
        responses={status: {"model": ErrorResponse} for status in (400, 413, 422)},
    )
    app.state.settings = settings
    app.state.celery = create_celery(settings)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    app.state.known_keys = KnownKeys(settings.key_recheck_seconds)
    app.state.stream_limit = InFlightLimit(settings.max_streams_per_key, "event streams per key")
    app.state.address_rate_limiter = RateLimiter(
        settings.address_rate_limit_per_second, settings.address_rate_limit_burst
    )
    install_serving(app, settings)
    install_error_handlers(app)
    # Inside the metrics middleware: a streamed body's 413 is raised from the handler's
    # reads and answered by the error handlers, not from inside another middleware.
    app.add_middleware(RequestLimits, settings=settings)
    install_request_metrics(app)
    app.include_router(health.router)  # /health, /ready and /metrics need no key
    # Every /v1 route needs a key: the dependency is on the router, not left to each route.
    for module in (
        keys,
        tenants,
        methods,
        datasets,
        jobs,
        models,
        workers,
    ):
        app.include_router(
            module.router, dependencies=[Depends(get_principal)], responses=KEYED_RESPONSES
        )
    app.include_router(dashboard.router)  # the dashboard's page and files need no key
    return app
