"""A tenant's admin stays in its tenant; only the operator manages tenants and grants
operator keys (each of these was possible for any admin key before the roles split)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.core.settings import Settings
from tests.keys import bearer, create_key


def test_a_tenant_admin_cannot_make_a_key_for_another_tenant(
    client: TestClient, settings: Settings
) -> None:
    admin_a = bearer(create_key(settings, "team-a", admin=True))
    create_key(settings, "team-b")
    refused = client.post("/v1/keys", json={"tenant": "team-b"}, headers=admin_a)
    assert (refused.status_code, refused.json()["code"]) == (404, "tenant_not_found")
    new_tenant = client.post("/v1/keys", json={"tenant": "team-new"}, headers=admin_a)
    assert new_tenant.status_code == 404
    own = client.post("/v1/keys", json={"name": "ci"}, headers=admin_a)
    assert own.status_code == 201 and own.json()["tenant_id"] == "team-a"
    escalated = client.post("/v1/keys", json={"operator": True}, headers=admin_a)
    assert (escalated.status_code, escalated.json()["code"]) == (403, "operator_required")


def test_a_tenant_admin_lists_and_revokes_only_its_own_keys(
    client: TestClient, settings: Settings
) -> None:
    admin_a = bearer(create_key(settings, "team-a", admin=True))
    key_b = create_key(settings, "team-b")
    listed = client.get("/v1/keys", headers=admin_a).json()
    assert {k["tenant_id"] for k in listed} == {"team-a"}
    assert client.get("/v1/keys", params={"tenant": "team-b"}, headers=admin_a).status_code == 404
    revoke = client.delete(f"/v1/keys/{key_b[:14]}", headers=admin_a)
    assert (revoke.status_code, revoke.json()["code"]) == (404, "key_not_found")
    assert client.get("/v1/me", headers=bearer(key_b)).status_code == 200  # still live


def test_a_tenant_admin_sees_only_its_tenant_and_cannot_change_quotas(
    client: TestClient, settings: Settings
) -> None:
    admin_a = bearer(create_key(settings, "team-a", admin=True))
    create_key(settings, "team-b")
    tenants = client.get("/v1/tenants", headers=admin_a).json()
    assert [t["id"] for t in tenants] == ["team-a"]
    other = client.put("/v1/tenants/team-b", json={"max_active_jobs": 1000}, headers=admin_a)
    assert other.status_code == 404
    own = client.put("/v1/tenants/team-a", json={"max_active_jobs": 1000}, headers=admin_a)
    assert (own.status_code, own.json()["code"]) == (403, "operator_required")


def test_the_operator_manages_every_tenant_and_acts_as_its_own_on_data(
    client: TestClient, settings: Settings
) -> None:
    operator = bearer(create_key(settings, "ops", operator=True))
    create_key(settings, "team-b")
    assert client.get("/v1/me", headers=operator).json()["operator"] is True
    quota = client.put("/v1/tenants/team-b", json={"max_active_jobs": 5}, headers=operator)
    assert quota.status_code == 200 and quota.json()["max_active_jobs"] == 5
    assert {"ops", "team-b"} <= {
        t["id"] for t in client.get("/v1/tenants", headers=operator).json()
    }
    granted = client.post("/v1/keys", json={"tenant": "team-c", "operator": True}, headers=operator)
    assert granted.status_code == 201 and granted.json()["operator"] is True
    # on data routes an operator key is a key of its own tenant: team-b's data is not there
    assert client.get("/v1/datasets", headers=operator).json()["items"] == []
