"""Trainer hooks that write a job's progress, metrics and events to the database."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from api.core.persistence import jobs, metrics
from api.core.persistence.db import session_scope
from ssl_engine.trainer import Progress
from worker.db_retry import with_retries
from worker.heartbeat import Heartbeat, StopReason
from worker.shutdown import shutdown_requested

log = logging.getLogger(__name__)

# About 1.5 s of retrying per write: long enough for a dropped connection to come back,
# short enough not to stall training through a long outage (the heartbeat keeps trying).
WRITE_ATTEMPTS = 3
FIRST_RETRY_DELAY = 0.5


class DatabaseHooks:
    """Implements ``ssl_engine.trainer.TrainerHooks`` for one job held by one worker.

    Writes are retried a few times and then dropped with a warning: a failed progress
    write must not kill hours of training (the next write carries the newer state).
    """

    def __init__(self, database_url: str, job_id: str, owner: str, heartbeat: Heartbeat):
        self.database_url = database_url
        self.job_id = job_id
        self.owner = owner
        self.heartbeat = heartbeat
        self.latest_metrics: dict[str, float] = {}
        self._lock = threading.Lock()

    def _write(self, what: str, action: Callable[[Session], None]) -> None:
        def once() -> None:
            with self._lock, session_scope(self.database_url, tenant=None) as session:
                action(session)

        try:
            # Any error is retried: a unique-key race on a replayed metric step included.
            with_retries(
                once,
                what=f"writing {what} for job {self.job_id}",
                attempts=WRITE_ATTEMPTS,
                first_delay=FIRST_RETRY_DELAY,
                retry_on=(Exception,),
            )
        except Exception:
            log.error("giving up writing %s for job %s", what, self.job_id, exc_info=True)

    def on_progress(self, progress: Progress) -> None:
        throughput = {
            "images_per_sec": progress.images_per_sec,
            "data_wait_fraction": progress.data_wait_fraction,
        }
        self.on_metrics(progress.step, progress.epoch, throughput)  # series next to the loss

        def write(session: Session) -> None:
            jobs.update_progress(
                session,
                self.job_id,
                self.owner,
                epoch=progress.epoch,
                step=progress.step,
                total_steps=progress.total_steps,
                images_per_sec=_finite_or_none(progress.images_per_sec),
                eta_seconds=_finite_or_none(progress.eta_seconds),
                latest_metrics=dict(self.latest_metrics),
            )

        self._write("progress", write)

    def on_metrics(self, step: int, epoch: int, values: dict[str, float]) -> None:
        finite = {name: float(v) for name, v in values.items() if math.isfinite(float(v))}
        self.latest_metrics.update(finite)
        self._write(
            "metrics",
            lambda session: metrics.record_metrics(session, self.job_id, step, epoch, finite),
        )

    def on_checkpoint(self, path: Path, step: int, epoch: int) -> None:
        log.info("job %s: checkpoint at step %d (epoch %d): %s", self.job_id, step, epoch, path)

    def on_event(self, kind: str, message: str) -> None:
        self._write(
            f"event {kind}",
            lambda session: jobs.add_event(session, self.job_id, kind, None, None, message),
        )

    def should_stop(self) -> bool:
        if shutdown_requested.is_set() and self.heartbeat.stop_reason is None:
            self.heartbeat.stop_reason = StopReason.SHUTDOWN
        return self.heartbeat.stop_reason is not None


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
