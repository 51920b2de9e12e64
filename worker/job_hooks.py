"""Trainer hooks that write a job's progress, metrics and events to the database."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from api.persistence import jobs, metrics
from api.persistence.db import session_scope
from ssl_engine.trainer import Progress
from worker.heartbeat import Heartbeat, StopReason
from worker.shutdown import shutdown_requested

log = logging.getLogger(__name__)

WRITE_ATTEMPTS = 3


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
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self._lock, session_scope(self.database_url) as session:
                    action(session)
                return
            except Exception:
                log.warning("writing %s for job %s failed (attempt %d)", what, self.job_id, attempt)
                time.sleep(0.5 * attempt)
        log.error("giving up writing %s for job %s", what, self.job_id)

    def on_progress(self, progress: Progress) -> None:
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
