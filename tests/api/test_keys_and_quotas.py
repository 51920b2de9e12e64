"""Keys over HTTP (admin scope), who-am-I, per-tenant quotas and the per-key rate limit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.core.settings import Settings
from api.rate_limit import RateLimiter
from tests.ingest import register
from tests.keys import bearer, create_key

TINY_JOB = {"method": "simclr", "backbone": "tiny_cnn", "batch_size": 4, "epochs": 1}


def test_the_operator_creates_lists_and_revokes_keys(
    client: TestClient, settings: Settings
) -> None:
    admin = bearer(create_key(settings, "ops", operator=True))
    made = client.post("/v1/keys", json={"tenant": "team-c", "name": "c's ci"}, headers=admin)
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    key = made.json()
    assert key["key"].startswith(key["prefix"]) and key["tenant_id"] == "team-c"
    me = client.get("/v1/me", headers=bearer(key["key"])).json()
    assert me == {
        "tenant": "team-c",
        "key_prefix": key["prefix"],
        "admin": False,
        "operator": False,
        "stored_bytes": 0,
        "max_storage_bytes": None,
    }

    listed = client.get("/v1/keys", params={"tenant": "team-c"}, headers=admin).json()
    assert [k["prefix"] for k in listed] == [key["prefix"]]
    assert "key" not in listed[0] and "key_hash" not in listed[0]
    tenants = [t["id"] for t in client.get("/v1/tenants", headers=admin).json()]
    assert "team-c" in tenants

    revoked = client.delete(f"/v1/keys/{key['prefix']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    refused = client.get("/v1/me", headers=bearer(key["key"]))
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_api_key")
    assert client.delete("/v1/keys/nope", headers=admin).status_code == 404
    bad = client.post("/v1/keys", json={"tenant": "../etc"}, headers=admin)
    assert bad.status_code == 422


def test_a_tenant_at_its_quota_gets_429_and_others_do_not(
    serve: Callable[..., TestClient], settings: Settings, image_folder: Path
) -> None:
    with serve(max_active_jobs_per_tenant=2) as client:
        dataset = register(client, image_folder)
        body = {**TINY_JOB, "dataset_id": dataset["id"]}
        assert [client.post("/v1/jobs", json=body).status_code for _ in range(2)] == [201, 201]
        refused = client.post("/v1/jobs", json=body)
        assert refused.status_code == 429
        assert refused.json()["code"] == "quota_exceeded"
        assert refused.json()["details"] == {"active": 2, "limit": 2}
        assert int(refused.headers["retry-after"]) > 0
        # a replay of an accepted request is not new work
        replayed = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "k"})
        assert replayed.status_code == 429
        # another tenant has its own quota
        other = bearer(create_key(settings, "team-b"))
        mine = register(client, image_folder, "b", headers=other)
        accepted = client.post("/v1/jobs", json={**body, "dataset_id": mine["id"]}, headers=other)
        assert accepted.status_code == 201
        # cancelling one frees a place
        first = client.get("/v1/jobs").json()["items"][-1]["id"]
        assert client.post(f"/v1/jobs/{first}/cancel").status_code == 202
        assert client.post("/v1/jobs", json=body).status_code == 201
        # the operator raises the tenant's limit
        admin = bearer(create_key(settings, "ops", operator=True))
        raised = client.put("/v1/tenants/local", json={"max_active_jobs": 5}, headers=admin)
        assert raised.json()["max_active_jobs"] == 5
        assert client.post("/v1/jobs", json=body).status_code == 201


def test_a_key_past_its_rate_gets_429_with_retry_after(
    serve: Callable[..., TestClient], settings: Settings
) -> None:
    with serve(rate_limit_per_second=0.5, rate_limit_burst=3) as client:
        statuses = [client.get("/v1/methods").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = client.get("/v1/methods")
        assert limited.json()["code"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 2
        other = bearer(create_key(settings, "team-b"))
        assert client.get("/v1/methods", headers=other).status_code == 200
        assert client.get("/health").status_code == 200  # no key, no limit


def test_the_token_bucket_refills_at_its_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("api.rate_limit.time.monotonic", lambda: now[0])
    limiter = RateLimiter(rate=2.0, burst=2)
    assert [limiter.acquire("k") for _ in range(2)] == [None, None]
    assert limiter.acquire("k") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.acquire("k") is None
    assert limiter.acquire("other") is None
    assert RateLimiter(rate=0, burst=1).acquire("k") is None  # 0 turns the limit off
