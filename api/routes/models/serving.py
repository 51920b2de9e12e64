"""Trained models: metadata, warm-up, embeddings (dynamically batched), energies, deletion."""

from __future__ import annotations

import shutil
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.core.artifacts import embeddings_dir, model_dir
from api.core.persistence import deletion, trained_models
from api.deps import SessionDep, SettingsDep
from api.errors import ApiError
from api.in_flight import InFlightLimit
from api.lookups import model_or_404
from api.routes.models.views import models_out
from api.schemas.common import ERROR, MAX_SQL_INT, Page
from api.schemas.models import (
    EmbedRequest,
    EmbedResponse,
    EnergyRequest,
    EnergyResponse,
    ModelOut,
)
from api.schemas.serving import WarmupResponse
from api.serving.dataset_files import all_files
from api.serving.deps import ModelCacheDep, ModelSpecDep
from api.serving.embedding import admit, embed_files, get_loaded, observed
from api.serving.images import check_request_pixels, decode_base64, images_to_batch
from api.serving.inputs import read_body, read_embed_inputs, validated
from api.serving.model_cache import LoadedModel
from api.serving.threads import off_loop
from api.serving.vectors import encode_vectors, json_response
from ssl_engine.precision import Precision, RequestedPrecision

router = APIRouter(prefix="/v1/models", tags=["models"])

IMAGE_BODY = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {
                "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                "normalize": {"type": "boolean"},
                "encoding_format": {"type": "string", "enum": ["float", "base64"]},
            },
            "required": ["files"],
        }
    },
    "application/json": {"schema": EmbedRequest.model_json_schema()},
}


@router.get("", response_model=Page[ModelOut])
def list_models(
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_SQL_INT)] = 0,
) -> Page[ModelOut]:
    """Trained models, newest first."""
    rows, total = trained_models.list_models(session, limit=limit, offset=offset)
    return Page(items=models_out(session, settings, rows), total=total, limit=limit, offset=offset)


@router.get("/{model_id}", response_model=ModelOut)
def get_model(model_id: str, session: SessionDep, settings: SettingsDep) -> ModelOut:
    """One model: method, backbone, resolution, embedding size, final metrics, stored bytes."""
    return models_out(session, settings, [model_or_404(session, model_id)])[0]


@router.post("/{model_id}/warmup", response_model=WarmupResponse)
async def warmup(spec: ModelSpecDep, cache: ModelCacheDep) -> WarmupResponse:
    """Load the model now (first call) and run one batch, so the next request is fast."""
    import torch

    from ssl_engine.export import preprocessing

    loaded, slot = await admit(cache, spec)
    with slot:
        size = spec.recipe.input_size
        vectors = await slot.embed(torch.zeros(1, 3, size, size), loaded.precision)  # (1, D)
    return WarmupResponse(
        model=spec.model_id,
        embed_dim=int(vectors.shape[1]),
        image_size=size,
        device=str(loaded.device),
        precision=loaded.precision,
        load_seconds=round(loaded.load_seconds, 3),
        memory_bytes=loaded.nbytes,
        loaded_models=cache.loaded_ids(spec.tenant_id),  # never another tenant's ids
        preprocessing=preprocessing(size),
    )


@router.post(
    "/{model_id}/embed",
    response_model=EmbedResponse,
    openapi_extra={"requestBody": {"content": IMAGE_BODY, "required": True}},
    responses={429: {"description": "The model's queue is full; retry after Retry-After."}},
)
async def embed(
    request: Request, spec: ModelSpecDep, cache: ModelCacheDep, settings: SettingsDep
) -> Response:
    """Embed images sent as multipart ``files``, JSON base64 ``images`` or ``dataset_items``."""
    with observed(spec.model_id):
        loaded, slot = await admit(cache, spec)
        with slot:
            inputs = await read_embed_inputs(
                request, spec.tenant_id, settings.max_embed_images, settings.max_upload_bytes
            )
            files = await all_files(
                inputs, settings.resolved_database_url, spec.tenant_id, settings.max_upload_bytes
            )
            precision = loaded.resolve(inputs.precision)
            vectors = await embed_files(
                slot, spec, files, settings.max_request_pixels, precision
            )  # (N, D)
    embeddings = encode_vectors(
        vectors, normalize=inputs.normalize, encoding_format=inputs.encoding_format
    )
    answer = EmbedResponse.model_construct(  # built from checked values: no validation pass
        model=spec.model_id,
        dim=int(vectors.shape[1]),
        precision=precision,
        encoding_format=inputs.encoding_format,
        embeddings=embeddings,
    )
    return json_response(answer)


Pair = tuple[tuple[str, bytes], tuple[str, bytes]]  # ((name, x image), (name, y image))


def _energy_pairs(body: bytes, max_pairs: int) -> tuple[list[Pair], RequestedPrecision | None]:
    """The pairs of a JSON energy body, base64-decoded, and the precision it asks for; 413
    past ``max_pairs``."""
    request = validated(EnergyRequest, body)
    if len(request.pairs) > max_pairs:
        raise ApiError(413, "too_many_pairs", f"at most {max_pairs} pairs per request")
    pairs = [
        (
            (f"pairs[{i}].x", decode_base64(p.x, f"pairs[{i}].x")),
            (f"pairs[{i}].y", decode_base64(p.y, f"pairs[{i}].y")),
        )
        for i, p in enumerate(request.pairs)
    ]
    return pairs, request.precision


def _energy(
    loaded: LoadedModel, pairs: list[Pair], max_pixels: int, precision: Precision
) -> list[float]:
    size = loaded.spec.recipe.input_size
    check_request_pixels([image for pair in pairs for image in pair], max_pixels)
    x = images_to_batch([p[0] for p in pairs], size)  # (N, 3, S, S)
    y = images_to_batch([p[1] for p in pairs], size)  # (N, 3, S, S)
    return loaded.energies(x, y, precision)


@router.post(
    "/{model_id}/energy",
    response_model=EnergyResponse,
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": EnergyRequest.model_json_schema()}},
            "required": True,
        }
    },
)
async def energy(
    request: Request, spec: ModelSpecDep, cache: ModelCacheDep, settings: SettingsDep
) -> EnergyResponse:
    """E(x, y) for each pair under the model's method: low means compatible.

    At most ``SSLPT_MAX_ENERGY_IN_FLIGHT`` energy requests of a tenant run at once (429
    beyond); the body is read only once the request holds its place.
    """
    limit: InFlightLimit = request.app.state.energy_limit
    with limit.held(spec.tenant_id):
        body = await read_body(request, settings.max_upload_bytes)
        tenant = spec.tenant_id
        pairs, requested = await off_loop(tenant, _energy_pairs, body, settings.max_embed_images)
        loaded = await get_loaded(cache, spec)
        precision = loaded.resolve(requested)
        energies = await off_loop(
            tenant, _energy, loaded, pairs, settings.max_request_pixels, precision
        )
    return EnergyResponse(
        model=spec.model_id, method=spec.recipe.method, precision=precision, energies=energies
    )


@router.delete("/{model_id}", status_code=204, responses={409: ERROR})
def delete_model(
    model_id: str, session: SessionDep, settings: SettingsDep, cache: ModelCacheDep
) -> Response:
    """Delete a model: its weights, exports, evaluations, dataset embeddings and search
    indexes; it stops being served (here at once, in other API processes within 5 s).

    409 ``model_in_use`` while one of its probes or dataset embeddings is unfinished. Then
    a 404 like any missing model; its job can be deleted next.
    """
    model = model_or_404(session, model_id)
    busy = deletion.unfinished_uses(session, model_id)
    if busy:
        raise ApiError(
            409,
            "model_in_use",
            f"model {model_id} is used by unfinished work: {', '.join(busy[:5])}",
            {"in_use_by": busy},
        )
    tenant = model.tenant_id
    embeddings = deletion.delete_model(session, model)
    session.commit()  # the rows first: a crash now leaves files no row points at
    cache.evict(model_id, tenant)
    for folder in [
        model_dir(settings, tenant, model_id),
        *(embeddings_dir(settings, tenant, e) for e in embeddings),
    ]:
        shutil.rmtree(folder, ignore_errors=True)
    return Response(status_code=204)
