"""Trained models: metadata, embeddings and energies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.deps import SessionDep, SettingsDep
from api.errors import ApiError, field_errors, not_found, validation_error
from api.persistence import trained_models
from api.schemas.common import Page
from api.schemas.models import (
    EmbedRequest,
    EmbedResponse,
    EnergyRequest,
    EnergyResponse,
    ModelOut,
)
from api.serving.images import decode_base64, images_to_batch
from api.serving.model_cache import LoadedModel, ModelCache, ModelSpec

router = APIRouter(prefix="/v1/models", tags=["models"])

IMAGE_BODY = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {
                "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
            },
            "required": ["files"],
        }
    },
    "application/json": {"schema": EmbedRequest.model_json_schema()},
}


@router.get("", response_model=Page[ModelOut])
def list_models(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[ModelOut]:
    """Trained models, newest first."""
    rows, total = trained_models.list_models(session, limit=limit, offset=offset)
    items = [ModelOut.model_validate(m) for m in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/{model_id}", response_model=ModelOut)
def get_model(model_id: str, session: SessionDep) -> ModelOut:
    """One model: method, backbone, resolution, embedding size, final metrics."""
    model = trained_models.get_model(session, model_id)
    if model is None:
        raise not_found("model", model_id)
    return ModelOut.model_validate(model)


def model_spec(model_id: str, session: SessionDep) -> ModelSpec:
    model = trained_models.get_model(session, model_id)
    if model is None:
        raise not_found("model", model_id)
    return ModelSpec(
        model_id=model.id,
        method=model.method,
        backbone=model.backbone,
        image_size=model.image_size,
        hyperparameters=dict(model.hyperparameters),
        weights_path=Path(model.weights_path),
    )


ModelSpecDep = Annotated[ModelSpec, Depends(model_spec)]


async def _reject_oversized(request: Request, limit: int) -> None:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise ApiError(413, "payload_too_large", f"request body over {limit} bytes")


async def _embed_inputs(request: Request, max_images: int) -> tuple[list[tuple[str, bytes]], bool]:
    """The (name, bytes) images of a multipart or JSON request, and the normalize flag."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=max_images + 1, max_fields=10)
        uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not uploads:
            raise validation_error([{"field": "files", "message": "at least one file is required"}])
        items = [(u.filename or f"files[{i}]", await u.read()) for i, u in enumerate(uploads)]
        normalize = str(form.get("normalize", "false")).lower() in ("1", "true", "yes")
    elif content_type.startswith("application/json"):
        try:
            body = EmbedRequest.model_validate_json(await request.body())
        except ValidationError as error:
            raise validation_error(field_errors(list(error.errors()))) from error
        items = [
            (f"images[{i}]", decode_base64(s, f"images[{i}]")) for i, s in enumerate(body.images)
        ]
        normalize = body.normalize
    else:
        raise ApiError(
            415, "unsupported_media_type", "send multipart/form-data or application/json"
        )
    if len(items) > max_images:
        raise ApiError(413, "too_many_images", f"at most {max_images} images per request")
    return items, normalize


def _cache(request: Request) -> ModelCache:
    cache: ModelCache = request.app.state.model_cache
    return cache


def _embed(
    loaded: LoadedModel, items: list[tuple[str, bytes]], normalize: bool
) -> list[list[float]]:
    from ssl_engine.inference import embed_images

    batch = images_to_batch(items, loaded.spec.image_size)  # (N, 3, S, S)
    with loaded.lock:
        vectors = embed_images(loaded.module, batch.to(loaded.device), normalize=normalize)
    return vectors.cpu().tolist()  # (N, D)


@router.post(
    "/{model_id}/embed",
    response_model=EmbedResponse,
    openapi_extra={"requestBody": {"content": IMAGE_BODY, "required": True}},
)
async def embed(request: Request, spec: ModelSpecDep, settings: SettingsDep) -> EmbedResponse:
    """Embed images sent as multipart ``files`` or JSON base64 ``images``."""
    await _reject_oversized(request, settings.max_upload_bytes)
    items, normalize = await _embed_inputs(request, settings.max_embed_images)
    loaded = await run_in_threadpool(_cache(request).get, spec)
    vectors = await run_in_threadpool(_embed, loaded, items, normalize)
    return EmbedResponse(model=spec.model_id, dim=len(vectors[0]), embeddings=vectors)


def _energy(
    loaded: LoadedModel, pairs: list[tuple[tuple[str, bytes], tuple[str, bytes]]]
) -> list[float]:
    import torch

    size = loaded.spec.image_size
    x = images_to_batch([p[0] for p in pairs], size).to(loaded.device)  # (N, 3, S, S)
    y = images_to_batch([p[1] for p in pairs], size).to(loaded.device)  # (N, 3, S, S)
    with loaded.lock, torch.inference_mode():
        energies = loaded.module.energy(x, y)  # (N,)
    return energies.float().cpu().tolist()


@router.post("/{model_id}/energy", response_model=EnergyResponse)
async def energy(
    body: EnergyRequest, request: Request, spec: ModelSpecDep, settings: SettingsDep
) -> EnergyResponse:
    """E(x, y) for each pair under the model's method: low means compatible."""
    if len(body.pairs) > settings.max_embed_images:
        raise ApiError(
            413, "too_many_pairs", f"at most {settings.max_embed_images} pairs per request"
        )
    pairs = [
        (
            (f"pairs[{i}].x", decode_base64(p.x, f"pairs[{i}].x")),
            (f"pairs[{i}].y", decode_base64(p.y, f"pairs[{i}].y")),
        )
        for i, p in enumerate(body.pairs)
    ]
    loaded = await run_in_threadpool(_cache(request).get, spec)
    energies = await run_in_threadpool(_energy, loaded, pairs)
    return EnergyResponse(model=spec.model_id, method=spec.method, energies=energies)
