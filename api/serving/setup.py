"""Wiring the serving pieces into the app: the model cache and the overload answer."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.core.settings import Settings
from api.errors import error_body
from api.in_flight import InFlightLimit
from api.serving.batcher import BatchingConfig, QueueFullError
from api.serving.model_cache import CacheLimits, ModelCache

RETRY_AFTER_SECONDS = 1


def install_serving(app: FastAPI, settings: Settings) -> None:
    """Create the app's model cache from the settings and answer overload with 429."""
    app.state.model_cache = ModelCache(
        CacheLimits(capacity=settings.model_cache_size, budget_bytes=settings.model_cache_mb << 20),
        settings.device,
        BatchingConfig(
            max_batch=settings.embed_max_batch,
            max_wait_s=settings.embed_max_wait_ms / 1000,
            max_queue=settings.embed_max_queue,
        ),
        torch_threads=settings.torch_threads,
        precision=settings.serving_precision,
    )
    app.state.energy_limit = InFlightLimit(
        settings.max_energy_in_flight, "energy requests per tenant"
    )
    app.add_exception_handler(QueueFullError, _overloaded)


async def _overloaded(_request: Request, exc: Exception) -> JSONResponse:
    body = error_body(
        "overloaded",
        f"model {exc} has too many requests in flight; retry after {RETRY_AFTER_SECONDS}s",
    )
    return JSONResponse(body, status_code=429, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
