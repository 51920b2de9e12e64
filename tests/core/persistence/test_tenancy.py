"""The data-access layer keeps tenants apart, whatever query a caller writes."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update

from api.core.persistence import api_keys, datasets, jobs, metrics
from api.core.persistence.db import session_scope
from api.core.persistence.tables import Dataset, Job, JobEvent, Metric
from api.core.persistence.tenancy import CrossTenantWrite
from api.core.settings import Settings


def setup_two_tenants(url: str) -> dict[str, str]:
    """A dataset and a job with a metric for each of tenants a and b; their job ids."""
    ids = {}
    with session_scope(url, tenant=None) as session:
        api_keys.ensure_tenant(session, "a")
        api_keys.ensure_tenant(session, "b")
    for tenant in ("a", "b"):
        with session_scope(url, tenant=tenant) as session:
            dataset = datasets.create_dataset(session, name=tenant, path="/x", image_count=1)
            job = jobs.create_job(
                session, method="simclr", dataset_id=dataset.id, backbone="tiny_cnn",
                image_size=16, epochs=1, batch_size=1, seed=0,
            )  # fmt: skip
            metrics.record_metrics(session, job.id, 1, 0, {"loss": 1.0})
            ids[tenant] = job.id
    return ids


def test_a_tenants_session_finds_counts_and_changes_only_its_own_rows(settings: Settings) -> None:
    url = settings.resolved_database_url
    ids = setup_two_tenants(url)
    with session_scope(url, tenant="a") as session:
        assert session.get(Job, ids["b"]) is None
        assert session.get(Job, ids["a"]) is not None
        assert session.scalar(select(func.count()).select_from(Job)) == 1
        assert [d.name for d in session.scalars(select(Dataset))] == ["a"]
        assert session.scalars(select(Metric.job_id)).all() == [ids["a"]]
        assert {e.job_id for e in session.scalars(select(JobEvent))} == {ids["a"]}
        assert session.execute(update(Job).where(Job.id == ids["b"]).values(epochs=9)).rowcount == 0
        assert session.execute(delete(Metric).where(Metric.job_id == ids["b"])).rowcount == 0
        assert jobs.list_jobs(session, status=None, limit=10, offset=0)[1] == 1
    with session_scope(url, tenant=None) as session:  # the worker's view: everything
        assert session.scalar(select(func.count()).select_from(Job)) == 2
        assert session.get(Job, ids["b"]).epochs == 1  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(Metric)) == 2


def test_new_rows_take_the_sessions_tenant_and_cannot_name_another(settings: Settings) -> None:
    url = settings.resolved_database_url
    setup_two_tenants(url)
    with session_scope(url, tenant="a") as session:
        made = datasets.create_dataset(session, name="mine", path="/y", image_count=1)
        assert made.tenant_id == "a"
    with pytest.raises(CrossTenantWrite), session_scope(url, tenant="a") as session:
        datasets.create_dataset(session, tenant_id="b", name="theirs", path="/z", image_count=1)
    with pytest.raises(CrossTenantWrite), session_scope(url, tenant=None) as session:
        datasets.create_dataset(session, name="nobodys", path="/z", image_count=1)
    with session_scope(url, tenant=None) as session:
        names = session.scalars(select(Dataset.name)).all()
    assert sorted(names) == ["a", "b", "mine"]


def test_keys_are_stored_hashed_and_revoked_keys_do_not_authenticate(settings: Settings) -> None:
    url = settings.resolved_database_url
    with session_scope(url, tenant=None) as session:
        created = api_keys.create_key(session, "team-x", name="ci")
        secret, key_id = created.secret, created.row.id
    with session_scope(url, tenant=None) as session:
        row = api_keys.find_key(session, created.row.prefix)
        assert row is not None and row.id == key_id
        assert secret not in {row.key_hash, row.prefix, row.name}
        assert row.key_hash == api_keys.hash_key(secret)
        key = api_keys.authenticate(session, secret)
        assert key is not None and key.last_used_at is not None
        assert api_keys.authenticate(session, secret + "x") is None
        assert api_keys.revoke_key(session, key_id)
        assert not api_keys.revoke_key(session, key_id)  # already revoked
    with session_scope(url, tenant=None) as session:
        assert api_keys.authenticate(session, secret) is None
    with pytest.raises(ValueError), session_scope(url, tenant=None) as session:
        api_keys.create_key(session, "../etc")
