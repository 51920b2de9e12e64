"""Prometheus request metrics, labelled by route template (not raw path)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import Counter, Histogram

REQUESTS = Counter("sslpt_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("sslpt_http_request_seconds", "HTTP request latency", ["method", "route"])


def install_request_metrics(app: FastAPI) -> None:
    @app.middleware("http")
    async def _measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        LATENCY.labels(request.method, template).observe(time.perf_counter() - start)
        REQUESTS.labels(request.method, template, str(response.status_code)).inc()
        return response
