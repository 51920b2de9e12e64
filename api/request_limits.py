"""Request body limits for every route, enforced while the body arrives (ASGI middleware).

* Routes that read their body as a stream (dataset uploads, embed, search and energy)
  have their own, larger limit; the body is passed through as it comes, counted, and the
  request fails with 413 as soon as the count passes the limit (a lying or absent
  Content-Length changes nothing).
* Every other route's body is read here first, up to its limit (``max_request_bytes``
  unless ``ROUTE_LIMITS`` names another; 413 past it), and a JSON body nested deeper than
  ``max_json_depth`` is a 400 before any parser recurses into it. The handler then reads
  the buffered body as usual.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from api.core.settings import Settings
from api.errors import ApiError, error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# path pattern -> the setting that limits its body, and whether the route streams it
ROUTE_LIMITS: tuple[tuple[re.Pattern[str], str, bool], ...] = (
    (re.compile(r"^/v1/datasets/upload$"), "max_archive_bytes", True),
    (re.compile(r"^/v1/models/[^/]+/(embed|search|energy)$"), "max_upload_bytes", True),
)
# Strings are removed before counting brackets, so brackets inside strings do not count.
JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
JSON_BRACKET = re.compile(r"[\[\]{}]")


def too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"request body over {limit} bytes")


def json_depth(text: str) -> int:
    """The deepest nesting of arrays/objects in ``text`` (0 for a scalar)."""
    depth = deepest = 0
    for bracket in JSON_BRACKET.findall(JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return b"json" in value.lower()
    return False


async def _answer(send: Send, error: ApiError) -> None:
    body = json.dumps(error_body(error.code, error.message, error.details)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def limit_of(self, path: str) -> tuple[int, bool]:
        """(body limit in bytes, whether the route reads its body as a stream)."""
        for pattern, setting, streamed in ROUTE_LIMITS:
            if pattern.match(path):
                return int(getattr(self.settings, setting)), streamed
        return self.settings.max_request_bytes, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, streamed = self.limit_of(scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _answer(send, too_large(limit))
            return
        if streamed:
            await self.app(scope, _counting(receive, limit), send)
            return
        try:
            body = await _read_all(receive, limit)
            if _is_json(scope) and body:
                self._check_json(body)
        except ApiError as error:
            await _answer(send, error)
            return
        await self.app(scope, _replay(body, receive), send)

    def _check_json(self, body: bytes) -> None:
        text = body.decode("utf-8", errors="replace")
        if json_depth(text) > self.settings.max_json_depth:
            raise ApiError(
                400,
                "json_too_deep",
                f"JSON nested deeper than {self.settings.max_json_depth} levels",
            )


async def _read_all(receive: Receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """Give the buffered body once, then whatever the server sends (e.g. a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _counting(receive: Receive, limit: int) -> Receive:
    """Pass body chunks through; raise a 413 ``ApiError`` once more than ``limit`` came."""
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise too_large(limit)
        return message

    return counted
