"""One embed request's path: admission, decoding off the loop, then a shared device batch."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fastapi.concurrency import run_in_threadpool

from api.errors import ApiError
from api.serving import metrics
from api.serving.batcher import BatcherClosedError, QueueFullError, Slot
from api.serving.images import decode_request
from api.serving.model_cache import LoadedModel, ModelCache, ModelSpec
from api.serving.threads import off_loop
from ssl_engine.precision import Precision

if TYPE_CHECKING:
    from torch import Tensor

log = logging.getLogger(__name__)


async def admit(cache: ModelCache, spec: ModelSpec) -> tuple[LoadedModel, Slot]:
    """The loaded model (loading it on first use) and a place in its queue, or a 429."""
    for _ in range(2):
        loaded = await get_loaded(cache, spec)
        try:
            return loaded, loaded.batcher.admit()
        except BatcherClosedError:
            continue  # evicted between the lookup and the admission: look it up again
    raise ApiError(503, "model_unavailable", f"model {spec.model_id} is being reloaded; retry")


async def get_loaded(cache: ModelCache, spec: ModelSpec) -> LoadedModel:
    """The model from the cache, loaded on a worker thread on first use (503 if it fails)."""
    loaded = cache.peek(spec.model_id)
    if loaded is not None:
        return loaded
    try:
        return await run_in_threadpool(cache.get, spec)
    except (OSError, RuntimeError, ValueError) as error:
        log.exception("loading model %s failed", spec.model_id)
        raise ApiError(
            503, "model_unavailable", f"model {spec.model_id} could not be loaded: {error}"
        ) from error


async def embed_files(
    slot: Slot,
    spec: ModelSpec,
    files: list[tuple[str, bytes]],
    max_pixels: int,
    precision: Precision,
) -> Tensor:
    """Decode ``files`` on the decode pool in the tenant's turn (413 past ``max_pixels``
    decoded pixels in all), then embed them at ``precision`` in the model's next batch."""
    size = spec.recipe.input_size
    images = await off_loop(spec.tenant_id, decode_request, files, size, max_pixels)
    return await slot.embed(images, precision)  # (N, D)


@contextmanager
def observed(model_id: str) -> Iterator[None]:
    """Count the request by outcome and time it when it succeeds."""
    start = time.perf_counter()
    try:
        yield
    except QueueFullError:
        metrics.EMBED_REQUESTS.labels(model_id, "rejected").inc()
        raise
    except ApiError as error:
        outcome = "invalid" if error.status_code < 500 else "error"
        metrics.EMBED_REQUESTS.labels(model_id, outcome).inc()
        raise
    except Exception:
        metrics.EMBED_REQUESTS.labels(model_id, "error").inc()
        raise
    metrics.EMBED_REQUESTS.labels(model_id, "ok").inc()
    metrics.EMBED_LATENCY.labels(model_id).observe(time.perf_counter() - start)
