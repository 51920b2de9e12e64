"""Which job a free worker takes: the oldest of the tenant with the fewest running jobs,
whatever order the broker delivered the messages in. On SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from api.core.persistence import api_keys, datasets, jobs
from api.core.persistence.db import session_scope
from api.core.persistence.migrate import upgrade
from tests.integration.services import POSTGRES_ENV, fresh_postgres_database, required_url

HOUR = timedelta(hours=1)


def submit(url: str, tenant: str, dataset_id: str) -> str:
    with session_scope(url, tenant=tenant) as session:
        return jobs.create_job(
            session, method="simclr", dataset_id=dataset_id, backbone="tiny_cnn",
            image_size=16, epochs=1, batch_size=2, seed=0,
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


def test_tenants_take_turns_on_sqlite(tmp_path: Path) -> None:
    check_fair_order(f"sqlite:///{tmp_path / 'fair.db'}")


@pytest.mark.integration
def test_tenants_take_turns_on_postgresql() -> None:
    with fresh_postgres_database(required_url(POSTGRES_ENV)) as url:
        try:
            check_fair_order(url)
        finally:
            from api.core.persistence.db import get_engine

            get_engine(url).dispose()  # the database is dropped next
