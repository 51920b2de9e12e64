"""Request dependencies of the serving routes: the model cache and a model's spec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from api.auth import PrincipalDep
from api.core.persistence import trained_models
from api.core.persistence.db import session_scope
from api.core.persistence.recipes import recipe_of
from api.core.settings import Settings
from api.errors import ApiError, not_found
from api.serving.model_cache import ModelCache, ModelSpec


async def get_model_cache(request: Request) -> ModelCache:
    cache: ModelCache = request.app.state.model_cache
    return cache


ModelCacheDep = Annotated[ModelCache, Depends(get_model_cache)]


def _spec_from_database(settings: Settings, tenant_id: str, model_id: str) -> ModelSpec:
    """Read the model row in a short session: embed requests may wait long in a queue and
    must not hold a database connection while they do."""
    with session_scope(settings.resolved_database_url, tenant=tenant_id) as session:
        model = trained_models.get_model(session, model_id)
        if model is None:
            raise not_found("model", model_id)
        return ModelSpec(
            model_id=model.id,
            tenant_id=model.tenant_id,
            recipe=recipe_of(model),
            weights_path=Path(model.weights_path),
        )


async def model_spec(
    model_id: str, request: Request, cache: ModelCacheDep, principal: PrincipalDep
) -> ModelSpec:
    """A loaded model's spec straight from the cache while its row was seen recently;
    otherwise from its database row (a model deleted meanwhile is evicted and a 404).

    Either way only a model of the caller's tenant is found: another tenant's is a 404.
    """
    spec = cache.spec_of(model_id)
    if spec is not None:
        if spec.tenant_id != principal.tenant_id:
            raise not_found("model", model_id)
        return spec
    settings: Settings = request.app.state.settings
    try:
        spec = await run_in_threadpool(_spec_from_database, settings, principal.tenant_id, model_id)
    except ApiError:
        cache.evict(model_id, principal.tenant_id)  # deleted (by any API process): unload it
        raise
    cache.confirm(model_id)
    return spec


ModelSpecDep = Annotated[ModelSpec, Depends(model_spec)]
