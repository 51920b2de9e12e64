"""The life of a probe or a dataset embedding in a worker: claim, work under a lease, end.

The message carries only the row id. The worker claims the row with a lease
(``api.core.persistence.model_tasks``), renews the lease from a heartbeat thread while it
works, and ends the row only while it still holds the lease: a worker that was presumed
lost and replaced writes nothing. Bad input (a dataset gone unreadable, a removed model)
fails the row with the reason; any other error fails it with the exception named.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar, cast

from sqlalchemy.orm import Session

from api.core.persistence import model_tasks
from api.core.persistence.db import session_scope
from api.core.persistence.leases import lease_owner
from api.core.persistence.model_tasks import TaskTable
from api.core.persistence.tables import DatasetEmbedding, Evaluation, JobStatus
from api.core.settings import Settings
from worker.heartbeat import Heartbeat, StopReason
from worker.job_data import JobInputError
from worker.model_on_dataset import ModelOnDataset, read_model_on_dataset

log = logging.getLogger(__name__)
Result = TypeVar("Result")
# (session, row id, lease owner, result) -> whether the row was ended as succeeded
Record = Callable[[Session, str, str, Result], bool]


def run_model_task(
    settings: Settings,
    table: TaskTable,
    row_id: str,
    work: Callable[[ModelOnDataset], Result],
    record: Record[Result],
) -> str | None:
    """Claim ``row_id`` of ``table``, ``work`` on its model and dataset, ``record`` the
    result. The final status, or None when there was nothing to do (not claimable, or the
    lease was lost meanwhile)."""
    url = settings.resolved_database_url
    kind = table.__tablename__.removesuffix("s").replace("_", " ")
    owner, lease = lease_owner(), timedelta(seconds=settings.lease_seconds)
    with session_scope(url, tenant=None) as session:
        if not model_tasks.claim(session, table, row_id, owner, lease):
            log.info("%s %s not claimable (duplicate or finished); skipping", kind, row_id)
            return None

    def renew(session: Session) -> StopReason | None:
        held = model_tasks.renew(session, table, row_id, owner, lease)
        return None if held else StopReason.LEASE_LOST

    with Heartbeat(url, f"{kind} {row_id}", lease, renew):
        try:
            result = work(_read_spec(url, table, row_id, kind))
        except (JobInputError, ValueError) as error:
            return _fail(url, table, row_id, owner, str(error))
        except Exception as error:
            log.exception("%s %s crashed", kind, row_id)
            return _fail(url, table, row_id, owner, f"{type(error).__name__}: {error}")
    with session_scope(url, tenant=None) as session:
        if record(session, row_id, owner, result):
            return JobStatus.SUCCEEDED
    log.warning("%s %s: lease lost to another worker; result not recorded", kind, row_id)
    return None


def _read_spec(url: str, table: TaskTable, row_id: str, kind: str) -> ModelOnDataset:
    with session_scope(url, tenant=None) as session:
        row = cast(Evaluation | DatasetEmbedding | None, session.get(table, row_id))
        assert row is not None  # claimed a moment ago
        return read_model_on_dataset(
            session, row.id, row.tenant_id, row.model_id, row.dataset_id, kind
        )


def _fail(url: str, table: TaskTable, row_id: str, owner: str, reason: str) -> str | None:
    with session_scope(url, tenant=None) as session:
        if model_tasks.finish(
            session, table, row_id, owner, JobStatus.FAILED, failure_reason=reason
        ):
            return JobStatus.FAILED
    return None
