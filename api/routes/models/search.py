"""Dataset embeddings (a worker embeds and indexes a dataset) and similarity search."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from api.core.persistence import dataset_embeddings
from api.core.persistence.db import session_scope
from api.core.persistence.tables import DatasetEmbedding
from api.core.queue import EMBED_DATASET_TASK, commit_and_publish
from api.core.vector_index import load_search_index
from api.deps import CeleryDep, SessionDep, SettingsDep
from api.errors import ApiError, not_found, validation_error
from api.lookups import dataset_field, model_or_404
from api.quotas import check_work_quota
from api.schemas.common import ERROR
from api.schemas.serving import (
    DatasetEmbeddingCreate,
    DatasetEmbeddingOut,
    SearchHit,
    SearchRequest,
    SearchResponse,
)
from api.serving.deps import ModelCacheDep, ModelSpecDep
from api.serving.embedding import admit, embed_files, observed
from api.serving.inputs import SearchQuery, read_search_query
from api.serving.model_cache import ModelCache, ModelSpec
from api.serving.threads import off_loop

if TYPE_CHECKING:
    from torch import Tensor

router = APIRouter(tags=["search"])

SEARCH_BODY = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {
                "file": {"type": "string", "format": "binary"},
                "k": {"type": "integer"},
                "dataset_id": {"type": "string"},
            },
            "required": ["file"],
        }
    },
    "application/json": {"schema": SearchRequest.model_json_schema()},
}


@router.post(
    "/v1/models/{model_id}/embeddings",
    response_model=DatasetEmbeddingOut,
    status_code=202,
    responses={409: ERROR},  # the dataset is not ready
)
def embed_dataset(
    model_id: str,
    body: DatasetEmbeddingCreate,
    session: SessionDep,
    celery: CeleryDep,
    settings: SettingsDep,
) -> DatasetEmbeddingOut:
    """Queue a job that embeds a whole dataset with the model and indexes it for search."""
    model_or_404(session, model_id)
    dataset = dataset_field(session, body.dataset_id)
    check_work_quota(session, settings)
    row = dataset_embeddings.create_embedding(session, model_id=model_id, dataset_id=dataset.id)
    commit_and_publish(session, celery, EMBED_DATASET_TASK, row)
    return DatasetEmbeddingOut.model_validate(row)


@router.get("/v1/models/{model_id}/embeddings", response_model=list[DatasetEmbeddingOut])
def list_dataset_embeddings(model_id: str, session: SessionDep) -> list[DatasetEmbeddingOut]:
    """A model's dataset embeddings, newest first."""
    model_or_404(session, model_id)
    rows = dataset_embeddings.list_for_model(session, model_id)
    return [DatasetEmbeddingOut.model_validate(r) for r in rows]


@router.get("/v1/embeddings/{embedding_id}", response_model=DatasetEmbeddingOut)
def get_dataset_embedding(embedding_id: str, session: SessionDep) -> DatasetEmbeddingOut:
    """Status, size and index kind of one dataset embedding."""
    row = dataset_embeddings.get_embedding(session, embedding_id)
    if row is None:
        raise not_found("embedding", embedding_id)
    return DatasetEmbeddingOut.model_validate(row)


def _searchable(
    database_url: str, tenant_id: str, model_id: str, dataset_id: str | None
) -> DatasetEmbedding:
    with session_scope(database_url, tenant=tenant_id) as session:
        row = dataset_embeddings.latest_succeeded(session, model_id, dataset_id)
    if row is None or row.path is None:
        which = f"dataset {dataset_id}" if dataset_id else "any dataset"
        raise ApiError(
            404,
            "embedding_not_found",
            f"model {model_id} has no finished embedding of {which}; "
            f"POST /v1/models/{model_id}/embeddings first",
        )
    return row


async def _query_vector(
    cache: ModelCache, spec: ModelSpec, query: SearchQuery, max_pixels: int
) -> Tensor:
    """The (D,) query: the image's embedding through the batcher, or the vector given."""
    import torch

    if query.image is not None:
        with observed(spec.model_id):
            loaded, slot = await admit(cache, spec)
            with slot:  # at the precision the dataset embeddings were made at (the default)
                vectors = await embed_files(slot, spec, [query.image], max_pixels, loaded.precision)
                return vectors[0]  # (D,)
    return torch.tensor(query.vector, dtype=torch.float32)


@router.post(
    "/v1/models/{model_id}/search",
    response_model=SearchResponse,
    openapi_extra={"requestBody": {"content": SEARCH_BODY, "required": True}},
)
async def search(
    request: Request, spec: ModelSpecDep, cache: ModelCacheDep, settings: SettingsDep
) -> SearchResponse:
    """The k dataset items nearest (cosine) to an image or a vector, most similar first."""
    query = await read_search_query(request, spec.tenant_id, settings.max_upload_bytes)
    row = await run_in_threadpool(
        _searchable, settings.resolved_database_url, spec.tenant_id, spec.model_id, query.dataset_id
    )
    index = await off_loop(spec.tenant_id, load_search_index, str(row.path))
    query_vector = await _query_vector(cache, spec, query, settings.max_request_pixels)
    vector = query_vector.numpy()  # (D,)
    norm = float(np.linalg.norm(vector))
    if vector.shape != (index.dim,) or not np.isfinite(norm) or norm == 0:
        raise validation_error(
            [{"field": "vector", "message": f"must be {index.dim} finite numbers, not all zero"}]
        )
    neighbours = await off_loop(spec.tenant_id, index.search, vector / norm, query.k)
    return SearchResponse(
        model=spec.model_id,
        dataset_id=row.dataset_id,
        embedding_id=row.id,
        results=[
            SearchHit(path=n.item.path, label=n.item.label, score=n.score) for n in neighbours
        ],
    )
