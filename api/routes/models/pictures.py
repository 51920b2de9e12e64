"""Pictures of what a model produces: samples from its prior (the VAE) and reconstructions
of given images (MAE with its mask, the denoising autoencoder, the VAE), as PNG grids.

Both share the energy route's per-tenant admission cap (``SSLPT_MAX_ENERGY_IN_FLIGHT``)
and the upload and pixel limits of every image route; the drawing runs off the event
loop, in the tenant's own lane.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from api.deps import SettingsDep
from api.errors import ApiError
from api.in_flight import InFlightLimit
from api.schemas.common import ERROR
from api.schemas.models import MAX_PICTURES, ReconstructRequest
from api.serving.deps import ModelCacheDep, ModelSpecDep
from api.serving.embedding import get_loaded
from api.serving.images import check_request_pixels, decode_base64, images_to_batch
from api.serving.inputs import read_body, validated
from api.serving.model_cache import LoadedModel, ModelSpec
from api.serving.threads import off_loop
from ssl_engine.methods.registry import METHODS

router = APIRouter(prefix="/v1/models", tags=["models"])

PICTURE_SIDE = 1024  # longest side of a returned grid, in pixels
PNG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "A PNG grid."},
    422: ERROR,
}


def _require(spec: ModelSpec, ability: str, what: str) -> None:
    method = METHODS[spec.recipe.method]
    if not getattr(method, ability):
        raise ApiError(
            422, "no_pictures", f"model {spec.model_id} ({method.name}) does not {what} images"
        )


@router.get("/{model_id}/samples", response_class=Response, responses=PNG)
async def samples(
    request: Request,
    spec: ModelSpecDep,
    cache: ModelCacheDep,
    n: Annotated[int, Query(ge=1, le=MAX_PICTURES, description="Images to draw.")] = 64,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1, description="Same seed, same images.")] = 0,
) -> Response:
    """A PNG grid of ``n`` images drawn from the model's prior (generative methods)."""
    from ssl_engine.pictures import samples_png

    _require(spec, "generates", "generate")
    limit: InFlightLimit = request.app.state.energy_limit
    with limit.held(spec.tenant_id):
        loaded = await get_loaded(cache, spec)
        draw = partial(samples_png, count=n, seed=seed, max_side=PICTURE_SIDE)
        png = await off_loop(spec.tenant_id, loaded.picture, draw)
    return Response(png, media_type="image/png")


def _reconstructions(loaded: LoadedModel, body: bytes, max_pixels: int) -> bytes:
    from ssl_engine.pictures import reconstructions_png

    request = validated(ReconstructRequest, body)
    files = [
        (f"images[{i}]", decode_base64(b, f"images[{i}]")) for i, b in enumerate(request.images)
    ]
    check_request_pixels(files, max_pixels)
    images = images_to_batch(files, loaded.spec.recipe.input_size)  # (N, 3, S, S)
    draw = partial(reconstructions_png, images=images, seed=request.seed, max_side=PICTURE_SIDE)
    return loaded.picture(draw)


@router.post(
    "/{model_id}/reconstruct",
    response_class=Response,
    responses=PNG,
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": ReconstructRequest.model_json_schema()}},
            "required": True,
        }
    },
)
async def reconstruct(
    request: Request, spec: ModelSpecDep, cache: ModelCacheDep, settings: SettingsDep
) -> Response:
    """A PNG of (given, made) pairs: what the model saw of each image and what it made.

    MAE's masked input and its prediction, the denoising autoencoder's noisy input and its
    reconstruction, the VAE's input and its decoding."""
    _require(spec, "reconstructs", "reconstruct")
    limit: InFlightLimit = request.app.state.energy_limit
    with limit.held(spec.tenant_id):
        body = await read_body(request, settings.max_upload_bytes)
        loaded = await get_loaded(cache, spec)
        png = await off_loop(
            spec.tenant_id, _reconstructions, loaded, body, settings.max_request_pixels
        )
    return Response(png, media_type="image/png")
