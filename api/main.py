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
from api.routes import datasets, evaluations, health, jobs, methods, models
from api.schemas.common import ErrorResponse
from api.serving.model_cache import ModelCache
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
    app.state.model_cache = ModelCache(settings.model_cache_size, settings.device)
    install_error_handlers(app)
    install_request_metrics(app)
    for module in (health, methods, datasets, jobs, models, evaluations):
        app.include_router(module.router)
    return app
