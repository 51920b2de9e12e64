"""Everything under ``/v1/jobs``: one resource, one package.

``runs`` (submit, list, get, cancel, metrics, events) and ``stream`` (server-sent
events); ``router`` includes both, the stream first, so that ``/v1/jobs/stream`` is not
read as a job id.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes.jobs import runs, stream

router = APIRouter()
for part in (stream, runs):
    router.include_router(part.router)
