"""Which job a free worker takes: the oldest of the tenant with the fewest running jobs,
whatever order the broker delivered the messages in. On SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from api.core.persistence import api_keys, datasets, jobs
from api.core.persistence.db import session_scope
from api.core.persistence.migrate import upgrade
from api.core.persistence.tables import utcnow
from tests.integration.services import POSTGRES_ENV, fresh_postgres_database, required_url

HOUR = timedelta(hours=1)


def submit(url: str, tenant: str, dataset_id: str, needs_gpu: bool = False) -> str:
    with session_scope(url, tenant=tenant) as session:
        return jobs.create_job(
            session, method="simclr", dataset_id=dataset_id, backbone="tiny_cnn",
            image_size=16, epochs=1, batch_size=2, seed=0, needs_gpu=needs_gpu,
        ).id  # fmt: skip


def dataset(url: str, tenant: str) -> str:
    with session_scope(url, tenant=None) as session:
        api_keys.ensure_tenant(session, tenant)
    with session_scope(url, tenant=tenant) as session:
        return datasets.create_dataset(session, name="d", path="/x", image_count=4).id


def claim_order(url: str, workers: int) -> list[str]:
    """Ids in the order ``workers`` free workers, then each finishing one at a time, claim."""
    order = []
    with session_scope(url, tenant=None) as session:
        while (job := jobs.claim_next(session, f"w:{len(order)}", HOUR)) is not None:
            order.append(job.id)
            if len(order) >= workers:  # the oldest running job finishes, freeing a worker
                done = order[len(order) - workers]
                jobs.transition(session, done, jobs.JobStatus.SUCCEEDED, "done")
    return order


def check_fair_order(url: str) -> None:
    upgrade(url)
    a_data, b_data = dataset(url, "a"), dataset(url, "b")
    a_jobs = [submit(url, "a", a_data) for _ in range(5)]  # a's backlog first
    b_jobs = [submit(url, "b", b_data) for _ in range(2)]
    order = claim_order(url, workers=1)
    # First in, first out would run a0..a4 and only then b0, b1.
    assert order == [a_jobs[0], b_jobs[0], a_jobs[1], b_jobs[1], *a_jobs[2:]]
    c_data = dataset(url, "c")
    more_a = [submit(url, "a", a_data) for _ in range(3)]
    c_job = submit(url, "c", c_data)
    with session_scope(url, tenant=None) as session:  # a holds two running jobs
        for job_id in more_a[:2]:
            assert jobs.claim(session, job_id, "busy", HOUR) is not None
        nxt = jobs.claim_next(session, "free", HOUR)
        assert nxt is not None and nxt.id == c_job  # the tenant with none running first


def check_jobs_fit_the_worker(url: str) -> None:
    """A worker without a GPU never claims a job that needs one; a GPU worker claims every
    job, in the fair order."""
    upgrade(url)
    a_data, b_data = dataset(url, "a"), dataset(url, "b")
    a_gpu = submit(url, "a", a_data, needs_gpu=True)  # the oldest job needs a GPU
    b_any = submit(url, "b", b_data)
    a_any = submit(url, "a", a_data)
    with session_scope(url, tenant=None) as session:
        cpu_claims = [jobs.claim_next(session, f"cpu:{i}", HOUR) for i in range(3)]
        assert [job.id if job else None for job in cpu_claims] == [b_any, a_any, None]
        assert jobs.fair_next(session, utcnow()) is None
        assert jobs.fair_next(session, utcnow(), has_gpu=True) == a_gpu
        gpu_claim = jobs.claim_next(session, "gpu:0", HOUR, has_gpu=True)
        assert gpu_claim is not None and gpu_claim.id == a_gpu
    b_gpu, b_second = submit(url, "b", b_data, needs_gpu=True), submit(url, "b", b_data)
    with session_scope(url, tenant=None) as session:  # a GPU worker takes any job, fairly
        for job_id in (b_gpu, b_second):
            claimed = jobs.claim_next(session, "gpu:1", HOUR, has_gpu=True)
            assert claimed is not None and claimed.id == job_id


@pytest.mark.parametrize("check", [check_fair_order, check_jobs_fit_the_worker])
def test_claims_on_sqlite(tmp_path: Path, check: Callable[[str], None]) -> None:
    check(f"sqlite:///{tmp_path / 'fair.db'}")


@pytest.mark.integration
@pytest.mark.parametrize("check", [check_fair_order, check_jobs_fit_the_worker])
def test_claims_on_postgresql(check: Callable[[str], None]) -> None:
    with fresh_postgres_database(required_url(POSTGRES_ENV)) as url:
        try:
            check(url)
        finally:
            from api.core.persistence.db import get_engine

            get_engine(url).dispose()  # the database is dropped next
