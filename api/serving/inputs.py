"""Embed and search request bodies: multipart files, JSON base64, or dataset items.

A body is read with a byte limit that holds whatever ``Content-Length`` claims (chunked
uploads included): past it the request is a 413 and nothing more is read. JSON is parsed
and base64-decoded off the event loop; the image count is checked before any decoding.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from api.errors import ApiError, field_errors, validation_error
from api.request_limits import too_large
from api.schemas.models import DatasetItems, EmbedFormOptions, EmbedRequest, EncodingFormat
from api.schemas.serving import SearchOptions, SearchRequest
from api.serving.images import decode_base64
from api.serving.threads import off_loop
from ssl_engine.precision import RequestedPrecision

M = TypeVar("M", bound=BaseModel)

TRUE_WORDS = ("1", "true", "yes", "on")
MAX_FORM_FIELDS = 16  # normalize, encoding_format, k, dataset_id: a few plain fields
MAX_FORM_FILES = 10_000  # the byte limit bounds the cost; the image limit is checked after


@dataclass
class EmbedInputs:
    files: list[tuple[str, bytes]]  # (name for errors, encoded image), in request order
    dataset_items: DatasetItems | None
    normalize: bool
    encoding_format: EncodingFormat
    precision: RequestedPrecision | None  # None: the server's default

    @property
    def count(self) -> int:
        extra = len(self.dataset_items.paths) if self.dataset_items else 0
        return len(self.files) + extra


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or a 413 as soon as it is known to exceed ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def content_kind(request: Request) -> str:
    """``multipart`` or ``json``; any other content type is a 415."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return "multipart"
    if content_type.startswith("application/json"):
        return "json"
    raise ApiError(415, "unsupported_media_type", "send multipart/form-data or application/json")


async def parse_form(request: Request, body: bytes) -> FormData:
    """A multipart body already read into memory -> its fields and files."""

    async def replay() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(
        request.headers, replay(), max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS
    )
    try:
        return await parser.parse()
    except MultiPartException as error:
        raise ApiError(422, "invalid_multipart", str(error)) from error


async def form_files(form: FormData, field: str) -> list[tuple[str, bytes]]:
    uploads = [f for f in form.getlist(field) if isinstance(f, UploadFile)]
    return [(u.filename or f"{field}[{i}]", await u.read()) for i, u in enumerate(uploads)]


def validated(model: type[M], data: bytes | Mapping[str, object]) -> M:
    """A JSON body or form fields checked against ``model``; errors are a 422 naming fields."""
    try:
        if isinstance(data, bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as error:
        raise validation_error(field_errors(list(error.errors()))) from error


async def read_embed_inputs(
    request: Request, tenant_id: str, max_images: int, max_bytes: int
) -> EmbedInputs:
    """The images of an embed request and its options; 413 past the image or byte limit."""
    kind = content_kind(request)
    body = await read_body(request, max_bytes)
    if kind == "multipart":
        inputs = await _multipart_inputs(request, body)
    else:
        inputs = await off_loop(tenant_id, _json_inputs, body, max_images)
    if inputs.count > max_images:
        raise ApiError(413, "too_many_images", f"at most {max_images} images per request")
    return inputs


async def _multipart_inputs(request: Request, body: bytes) -> EmbedInputs:
    form = await parse_form(request, body)
    try:
        files = await form_files(form, "files")
    finally:
        await form.close()
    if not files:
        raise validation_error([{"field": "files", "message": "at least one file is required"}])
    fields = {name: form[name] for name in ("encoding_format", "precision") if name in form}
    options = validated(EmbedFormOptions, fields)  # the same choices as in JSON
    return EmbedInputs(
        files=files,
        dataset_items=None,
        normalize=str(form.get("normalize", "false")).lower() in TRUE_WORDS,
        encoding_format=options.encoding_format,
        precision=options.precision,
    )


def _json_inputs(body: bytes, max_images: int) -> EmbedInputs:
    request = validated(EmbedRequest, body)
    if len(request.images) > max_images:  # before decoding any of them
        raise ApiError(413, "too_many_images", f"at most {max_images} images per request")
    files = [
        (f"images[{i}]", decode_base64(data, f"images[{i}]"))
        for i, data in enumerate(request.images)
    ]
    return EmbedInputs(
        files=files,
        dataset_items=request.dataset_items,
        normalize=request.normalize,
        encoding_format=request.encoding_format,
        precision=request.precision,
    )


@dataclass
class SearchQuery:
    image: tuple[str, bytes] | None  # an encoded image to embed, or
    vector: list[float] | None  # an embedding given directly
    dataset_id: str | None
    k: int


async def read_search_query(request: Request, tenant_id: str, max_bytes: int) -> SearchQuery:
    """A search request: multipart ``file`` (+ ``k``, ``dataset_id``) or JSON."""
    kind = content_kind(request)
    body = await read_body(request, max_bytes)
    if kind == "json":
        parsed = await off_loop(tenant_id, validated, SearchRequest, body)
        image = None if parsed.image is None else ("image", decode_base64(parsed.image, "image"))
        return SearchQuery(image, parsed.vector, parsed.dataset_id, parsed.k)
    form = await parse_form(request, body)
    try:
        files = await form_files(form, "file")
    finally:
        await form.close()
    if len(files) != 1:
        raise validation_error([{"field": "file", "message": "send exactly one image file"}])
    fields = {name: form[name] for name in ("k", "dataset_id") if name in form}
    options = validated(SearchOptions, fields)  # the same bounds as in JSON
    return SearchQuery(files[0], None, options.dataset_id, options.k)
