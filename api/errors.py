"""JSON errors with a stable ``code``: every 4xx/5xx the API sends has this shape."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from api.core.queue import BrokerUnavailable


class ApiError(Exception):
    """Raise anywhere in a request to answer ``{"code", "message", "details"}``."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        details: Any | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def not_found(kind: str, object_id: str) -> ApiError:
    return ApiError(404, f"{kind}_not_found", f"no {kind} with id {object_id!r}")


def error_body(code: str, message: str, details: Any | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return body


def field_errors(errors: list[Any], prefix: tuple[str | int, ...] = ()) -> list[dict[str, str]]:
    """pydantic error dicts -> [{"field": "a.b", "message": ...}], request location dropped."""
    out = []
    for error in errors:
        loc = [str(p) for p in (*prefix, *error.get("loc", ())) if p not in ("body", "query")]
        out.append({"field": ".".join(loc) or "(body)", "message": str(error.get("msg", ""))})
    return out


def validation_error(details: list[dict[str, str]]) -> ApiError:
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return ApiError(422, "validation_error", f"invalid request: {summary}", details)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        error = validation_error(field_errors(list(exc.errors())))
        return JSONResponse(error_body(error.code, error.message, error.details), status_code=422)

    # The one place an unreachable backing service becomes a 503 the client can retry.
    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_down(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse(
            error_body("database_unavailable", "the database is unreachable"), status_code=503
        )

    @app.exception_handler(BrokerUnavailable)
    async def _broker_down(_request: Request, exc: BrokerUnavailable) -> JSONResponse:
        return JSONResponse(error_body("broker_unavailable", str(exc)), status_code=503)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error"
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers
        )


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the routes of ``path`` serve: those written exactly as ``path`` if any
    (``/v1/datasets/upload``, not also ``/v1/datasets/{dataset_id}``), else those whose
    pattern matches it. (Starlette's own 405 names only the methods of the first route
    whose path matches: ``Allow: POST`` for a path with GET and POST.)"""
    exact: set[str] = set()
    matching: set[str] = set()
    for context in iter_route_contexts(app.routes):
        if context.path is None:
            continue
        methods = set(getattr(context, "methods", None) or ())
        if context.path == path:
            exact |= methods
        elif compile_path(context.path)[0].match(path):
            matching |= methods
    return sorted(exact or matching)
