"""Server-sent events: jobs' status and progress as they change, for the dashboard.

Each open stream polls the database about once a second (the row is the truth; there is
no message bus to subscribe to) and sends only what changed since its last look.
sse-starlette ends a stream when its client disconnects and when uvicorn shuts down, and
sends a comment line every 15 s so that a dead connection is noticed. Each open stream
holds one of its key's ``SSLPT_MAX_STREAMS_PER_KEY`` places while it is open.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Receive, Scope, Send

from api.auth import Principal, PrincipalDep
from api.core.persistence import job_feed
from api.core.persistence.db import session_scope
from api.core.persistence.metrics import metrics_after
from api.core.persistence.tables import FINISHED_STATUSES, Job
from api.core.settings import Settings
from api.deps import SettingsDep, get_session
from api.in_flight import InFlightLimit
from api.routes.jobs.views import get_job_or_404, jobs_out, one_job_out
from api.schemas.common import MAX_SQL_INT
from api.schemas.jobs import JobEventOut

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
log = logging.getLogger(__name__)
# The 404 check's session is closed before streaming starts, not held for the stream's life.
ShortSessionDep = Annotated[Session, Depends(get_session, scope="function")]

POLL_SECONDS = 1.0
METRIC_ROWS_PER_EVENT = 5000  # a long history is sent in chunks, back to back
# A finished job stays in the all-jobs stream this long after its last change, so that a
# client sees the final state even if the change fell between its page load and stream.
RECENT = timedelta(seconds=60)
RETRY_MS = 2000  # how long a browser's EventSource waits before reconnecting
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "A stream of server-sent events."}
}


def _event(name: str, data: Any) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(data, default=str), event=name, retry=RETRY_MS)


class HeldStream(EventSourceResponse):
    """An event stream that holds one of its key's stream places until it ends, however it
    ends (finished, client gone, server stopping)."""

    def __init__(
        self, events: AsyncIterator[ServerSentEvent], limit: InFlightLimit, key_id: str
    ) -> None:
        limit.acquire(key_id)  # 429 before anything is streamed
        super().__init__(events)
        self._release = functools.partial(limit.release, key_id)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def held_stream(
    request: Request, principal: Principal, events: AsyncIterator[ServerSentEvent]
) -> HeldStream:
    """``events`` as a stream counted against the key's ``SSLPT_MAX_STREAMS_PER_KEY``."""
    return HeldStream(events, request.app.state.stream_limit, principal.key_id)


async def _poll(poll: Callable[[], list[ServerSentEvent]]) -> list[ServerSentEvent]:
    """Run one database look in a thread; an unreachable database skips a tick, no more."""
    try:
        return await run_in_threadpool(poll)
    except OperationalError:
        log.warning("event stream: database unreachable, retrying", exc_info=True)
        return []


def _fingerprint(job: Job) -> Hashable:
    """What the dashboard shows of a job; a job is re-sent when this changes."""
    return (job.status, job.step, job.total_steps, job.epoch, job.model_id, job.updated_at)


# ---- every job ------------------------------------------------------------------------


@dataclass
class JobsWatch:
    """The jobs one client has seen, and at which state."""

    settings: Settings
    tenant_id: str
    seen: dict[str, Hashable] = field(default_factory=dict)

    def poll(self) -> list[ServerSentEvent]:
        """Unfinished or recently changed jobs whose shown state differs from last time."""
        with session_scope(self.settings.resolved_database_url, tenant=self.tenant_id) as session:
            rows = job_feed.unfinished_or_changed_since(session, RECENT)
            current = {job.id: _fingerprint(job) for job in rows}
            changed = [job for job in rows if self.seen.get(job.id) != current[job.id]]
            out = [
                _event("job", shown.model_dump(mode="json"))
                for shown in jobs_out(session, self.settings, changed)
            ]
        self.seen = current  # jobs out of the window are forgotten: they no longer change
        return out


async def _jobs_events(watch: JobsWatch) -> AsyncIterator[ServerSentEvent]:
    while True:
        for event in await _poll(watch.poll):
            yield event
        await anyio.sleep(POLL_SECONDS)


@router.get("/stream", response_class=EventSourceResponse, responses=STREAM_RESPONSES)
def stream_jobs(
    request: Request, settings: SettingsDep, principal: PrincipalDep
) -> EventSourceResponse:
    """Server-sent ``job`` events (a job as in GET /v1/jobs/{id}) whenever one changes.

    The stream opens with every unfinished or recently changed job. A key may hold at most
    ``SSLPT_MAX_STREAMS_PER_KEY`` streams open (429 beyond).
    """
    watch = JobsWatch(settings, principal.tenant_id)
    return held_stream(request, principal, _jobs_events(watch))


# ---- one job ----------------------------------------------------------------------------


@dataclass
class JobWatch:
    """One job's state, metric rows and events that a client has already been sent.

    Metric rows are tracked by id, not step: a step replayed after a resume is rewritten
    as new rows, and the client replaces the old value. (SQLite may give a rewritten row
    the id of the deleted newest row; that one replayed value then reaches a client only
    when it loads the history again.)
    """

    settings: Settings
    tenant_id: str
    job_id: str
    last_metric_id: int
    last_event_id: int
    seen: Hashable = None
    finished: bool = False
    more_metrics: bool = False

    def poll(self) -> list[ServerSentEvent]:
        with session_scope(self.settings.resolved_database_url, tenant=self.tenant_id) as session:
            job = session.get(Job, self.job_id)
            if job is None:  # deleted under us: nothing more will come
                self.finished = True
                return [_event("end", {"job_id": self.job_id})]
            out = self._job(session, job) + self._metrics(session) + self._events(session)
            if job.status in FINISHED_STATUSES and not self.more_metrics:
                self.finished = True
                out.append(_event("end", {"job_id": self.job_id, "status": job.status}))
            return out

    def _job(self, session: Session, job: Job) -> list[ServerSentEvent]:
        fingerprint = _fingerprint(job)
        if fingerprint == self.seen:
            return []
        self.seen = fingerprint
        return [_event("job", one_job_out(session, self.settings, job).model_dump(mode="json"))]

    def _metrics(self, session: Session) -> list[ServerSentEvent]:
        rows = metrics_after(session, self.job_id, self.last_metric_id, METRIC_ROWS_PER_EVENT)
        self.more_metrics = len(rows) == METRIC_ROWS_PER_EVENT
        if not rows:
            return []
        self.last_metric_id = rows[-1].id
        series: dict[str, list[dict[str, float]]] = {}
        for row in rows:
            point = {"step": row.step, "epoch": row.epoch, "value": row.value}
            series.setdefault(row.name, []).append(point)
        body = {"job_id": self.job_id, "series": series, "last_metric_id": self.last_metric_id}
        return [_event("metrics", body)]

    def _events(self, session: Session) -> list[ServerSentEvent]:
        rows = job_feed.events_after(session, self.job_id, self.last_event_id)
        if not rows:
            return []
        self.last_event_id = rows[-1].id
        events = [JobEventOut.model_validate(e).model_dump(mode="json") for e in rows]
        return [_event("events", events)]


async def _job_events(watch: JobWatch) -> AsyncIterator[ServerSentEvent]:
    while not watch.finished:
        for event in await _poll(watch.poll):
            yield event
        if not (watch.finished or watch.more_metrics):
            await anyio.sleep(POLL_SECONDS)


@router.get("/{job_id}/stream", response_class=EventSourceResponse, responses=STREAM_RESPONSES)
def stream_job(
    job_id: str,
    request: Request,
    session: ShortSessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    after_metric: Annotated[
        int, Query(ge=0, le=MAX_SQL_INT, description="Last metric row id already held.")
    ] = 0,
    after_event: Annotated[
        int, Query(ge=0, le=MAX_SQL_INT, description="Last event id already held.")
    ] = 0,
) -> EventSourceResponse:
    """One job's ``job``, ``metrics`` (new points by name) and ``events`` as they happen.

    Ends with an ``end`` event once the job has finished and everything was sent. Without
    ``after_*`` it starts with the whole metric history and every event; a client that
    reconnects passes the ``last_metric_id`` and event ``id`` it last received.
    """
    get_job_or_404(session, job_id)
    watch = JobWatch(settings, principal.tenant_id, job_id, after_metric, after_event)
    return held_stream(request, principal, _job_events(watch))
