"""What an operator alerts on, read from the database at scrape time (``GET /metrics``).

Jobs by status, the queue's depth and the age of its oldest job, live workers, the
training rate of running jobs, reconciler re-queues (counted in this process) and bytes
stored under the data directory. Series labelled by tenant (and per-job series, which
name a tenant's work) are added only for a scrape with the operator's key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from api.core.artifacts import tenants_root
from api.core.persistence import jobs, workers
from api.core.persistence.db import session_scope
from api.core.persistence.tables import Job, JobStatus, utcnow
from api.core.settings import Settings
from api.core.storage import tenant_bytes

REQUEUES = Counter(
    "sslpt_reconciler_requeues",
    "Work the reconciler sent to the workers again (lost lease or lost message)",
    ["task"],
)
BYTES_CACHE_SECONDS = 60.0
WAIT = "data_wait_fraction"  # a running job's latest metric (worker/job_hooks.py)


@dataclass(frozen=True)
class RunningJob:
    tenant: str
    id: str
    images_per_sec: float
    data_wait_fraction: float  # walking the data directory is not free: once a minute at most


class _BytesByTenant:
    """Bytes under each tenant's artifact folder, measured at most once a minute."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._measured: dict[Path, tuple[float, dict[str, int]]] = {}

    def get(self, settings: Settings) -> dict[str, int]:
        root = tenants_root(settings)
        with self._lock:
            cached = self._measured.get(root)
            if cached is not None and time.monotonic() - cached[0] < BYTES_CACHE_SECONDS:
                return cached[1]
            sizes = {}
            if root.is_dir():
                sizes = {
                    p.name: tenant_bytes(settings, p.name) for p in root.iterdir() if p.is_dir()
                }
            self._measured[root] = (time.monotonic(), sizes)
            return sizes


BYTES = _BytesByTenant()


class ServiceCollector(Collector):
    def __init__(self, settings: Settings, per_tenant: bool) -> None:
        self.settings = settings
        self.per_tenant = per_tenant

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        with session_scope(self.settings.resolved_database_url, tenant=None) as session:
            by_status = [
                (str(tenant), str(status), int(count))
                for tenant, status, count in session.execute(
                    select(Job.tenant_id, Job.status, func.count()).group_by(
                        Job.tenant_id, Job.status
                    )
                )
            ]
            oldest = session.scalar(
                select(func.min(Job.updated_at)).where(Job.status.in_(jobs.WAITING_STATUSES))
            )
            running = [
                RunningJob(tenant, job_id, rate or 0.0, float((latest or {}).get(WAIT, 0.0)))
                for tenant, job_id, rate, latest in session.execute(
                    select(Job.tenant_id, Job.id, Job.images_per_sec, Job.latest_metrics).where(
                        Job.status == JobStatus.RUNNING
                    )
                )
            ]
            alive = workers.count_alive(session, now)

        totals: dict[str, int] = {}
        for _, status, count in by_status:
            totals[status] = totals.get(status, 0) + count
        job_gauge = GaugeMetricFamily("sslpt_jobs", "Jobs by status", labels=["status"])
        for status in JobStatus:
            job_gauge.add_metric([status.value], totals.get(status.value, 0))
        yield job_gauge
        depth = sum(totals.get(s.value, 0) for s in jobs.WAITING_STATUSES)
        yield GaugeMetricFamily("sslpt_queue_depth", "Jobs queued or interrupted", value=depth)
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "sslpt_queue_oldest_seconds", "Age of the longest-waiting job", value=age
        )
        yield GaugeMetricFamily(
            "sslpt_workers_alive", "Workers with a recent heartbeat", value=alive
        )
        rate = sum(r.images_per_sec for r in running)
        yield GaugeMetricFamily(
            "sslpt_training_images_per_second", "Training images/s, all running jobs", value=rate
        )
        sizes = BYTES.get(self.settings)
        yield GaugeMetricFamily(
            "sslpt_stored_bytes",
            "Bytes under the data directory's artifacts",
            value=sum(sizes.values()),
        )
        if self.per_tenant:
            yield from self._per_tenant(by_status, running, sizes)

    def _per_tenant(
        self,
        by_status: list[tuple[str, str, int]],
        running: list[RunningJob],
        sizes: dict[str, int],
    ) -> Iterator[Metric]:
        tenant_jobs = GaugeMetricFamily(
            "sslpt_tenant_jobs", "Jobs by tenant and status", labels=["tenant", "status"]
        )
        for tenant, status, count in by_status:
            tenant_jobs.add_metric([tenant, status], count)
        yield tenant_jobs
        rate = GaugeMetricFamily(
            "sslpt_job_images_per_second",
            "A running job's training images/s",
            labels=["tenant", "job"],
        )
        wait = GaugeMetricFamily(
            "sslpt_job_data_wait_fraction",
            "Share of a running job's time spent waiting for data",
            labels=["tenant", "job"],
        )
        for job in running:
            rate.add_metric([job.tenant, job.id], job.images_per_sec)
            wait.add_metric([job.tenant, job.id], job.data_wait_fraction)
        yield rate
        yield wait
        stored = GaugeMetricFamily(
            "sslpt_tenant_stored_bytes", "Bytes of a tenant's artifacts", labels=["tenant"]
        )
        for tenant, size in sorted(sizes.items()):
            stored.add_metric([tenant], size)
        yield stored
