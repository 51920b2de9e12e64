"""The FastAPI application: routers, error handlers, the model cache and the reconciler."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.observability import install_request_metrics
from api.reconciler import reconcile_forever
from api.routes import (
    dashboard,
    datasets,
    evaluations,
    exports,
    health,
    jobs,
    methods,
    model_map,
    models,
    search,
    stream,
)
from api.schemas.common import ErrorResponse
from api.serving.setup import install_serving
from api.settings import Settings, get_settings
from worker.celery_app import create_celery


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

    app = FastAPI(
        title="sslpt",
        version="0.1.0",
        summary="Self-supervised pretraining as a service: submit jobs, serve embeddings.",
        lifespan=lifespan,
        responses={422: {"model": ErrorResponse}},
    )
    app.state.settings = settings
    app.state.celery = create_celery(settings)
    install_serving(app, settings)
    install_error_handlers(app)
    install_request_metrics(app)
    # stream before jobs: /v1/jobs/stream must not be read as a job id
    for module in (health, methods, datasets, stream, jobs, models, evaluations, exports, search):
        app.include_router(module.router)
    app.include_router(model_map.router)
    app.include_router(dashboard.router)
    return app
