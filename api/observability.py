"""Prometheus request metrics, labelled by route template (not raw path).

A plain ASGI middleware: it only watches the response's start message. (Starlette's
``@app.middleware("http")`` runs every request through a task group and memory streams,
which cost more CPU than the whole of a small request's own work.)
"""

from __future__ import annotations

import time

from fastapi import FastAPI
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("sslpt_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("sslpt_http_request_seconds", "HTTP request latency", ["method", "route"])


class RequestMetrics:
    """Counts each HTTP request by method, route template and status, and times it until
    its response starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                self._record(scope, message["status"], start)
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            if not started:  # escaped before any response: the client gets a 500
                self._record(scope, 500, start)
            raise

    @staticmethod
    def _record(scope: Scope, status: int, start: float) -> None:
        template = getattr(scope.get("route"), "path", "unmatched")
        LATENCY.labels(scope["method"], template).observe(time.perf_counter() - start)
        REQUESTS.labels(scope["method"], template, str(status)).inc()


def install_request_metrics(app: FastAPI) -> None:
    app.add_middleware(RequestMetrics)
