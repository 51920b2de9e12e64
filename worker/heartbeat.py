"""Background lease renewal for a running job or model task, and the stop reasons it finds."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from api.core.persistence import jobs
from api.core.persistence.db import session_scope
from api.core.persistence.tables import JobStatus

log = logging.getLogger(__name__)


class StopReason(StrEnum):
    CANCELLED = "cancelled"
    LEASE_LOST = "lease_lost"
    SHUTDOWN = "shutdown"
    WALL_TIME = "wall_time_exceeded"


class Heartbeat:
    """Renews a lease every ``interval`` seconds in a daemon thread.

    ``renew`` runs in a fresh session at each beat and says why the work should stop, if
    it should (a cancel request, a lost lease). A failed renewal (database briefly down) is
    logged and retried on the next beat, never fatal.
    """

    def __init__(
        self,
        database_url: str,
        name: str,
        lease: timedelta,
        renew: Callable[[Session], StopReason | None],
    ) -> None:
        self.database_url = database_url
        self.name = name
        self.renew = renew
        self.interval = max(0.5, min(lease.total_seconds() / 4, 10.0))
        self.stop_reason: StopReason | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{name}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopped.set()
        self._thread.join(timeout=self.interval + 5)

    def beat(self) -> None:
        try:
            with session_scope(self.database_url, tenant=None) as session:
                reason = self.renew(session)
        except Exception:  # a database outage must not kill the work; retry next beat
            log.warning("lease renewal of %s failed; will retry", self.name, exc_info=True)
            return
        if reason is not None:
            self.stop_reason = reason

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.beat()


def job_heartbeat(database_url: str, job_id: str, owner: str, lease: timedelta) -> Heartbeat:
    """A job's heartbeat: it adds the running time since the last beat to the job's wall
    time, and notices a cancel request (status ``cancelling``) and a job that has run as
    long as it may."""
    last = time.monotonic()

    def renew(session: Session) -> StopReason | None:
        nonlocal last
        now = time.monotonic()
        status = jobs.renew_lease(session, job_id, owner, lease, ran_seconds=now - last)
        last = now
        if status is None:
            return StopReason.LEASE_LOST
        if status == JobStatus.CANCELLING:
            return StopReason.CANCELLED
        return StopReason.WALL_TIME if jobs.wall_time_exceeded(session, job_id) else None

    return Heartbeat(database_url, f"job {job_id}", lease, renew)
