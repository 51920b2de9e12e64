"""Background lease renewal for a running job, and the stop reasons it discovers."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from enum import StrEnum

from api.persistence import jobs
from api.persistence.db import session_scope
from api.persistence.models import JobStatus

log = logging.getLogger(__name__)


class StopReason(StrEnum):
    CANCELLED = "cancelled"
    LEASE_LOST = "lease_lost"
    SHUTDOWN = "shutdown"


class Heartbeat:
    """Renews ``job_id``'s lease every ``interval`` seconds in a daemon thread.

    It notices a cancel request (status ``cancelling``) and a lost lease (another worker
    took the job after ours expired). A failed renewal (database briefly down) is logged
    and retried on the next beat, never fatal.
    """

    def __init__(self, database_url: str, job_id: str, owner: str, lease: timedelta) -> None:
        self.database_url = database_url
        self.job_id = job_id
        self.owner = owner
        self.lease = lease
        self.interval = max(0.5, min(lease.total_seconds() / 4, 10.0))
        self.stop_reason: StopReason | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopped.set()
        self._thread.join(timeout=self.interval + 5)

    def beat(self) -> None:
        try:
            with session_scope(self.database_url, tenant=None) as session:
                status = jobs.renew_lease(session, self.job_id, self.owner, self.lease)
        except Exception:  # a database outage must not kill training; retry next beat
            log.warning("lease renewal for job %s failed; will retry", self.job_id, exc_info=True)
            return
        if status is None:
            self.stop_reason = StopReason.LEASE_LOST
        elif status == JobStatus.CANCELLING:
            self.stop_reason = StopReason.CANCELLED

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.beat()
