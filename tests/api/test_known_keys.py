"""An API process checks a key in the database once per SSLPT_KEY_RECHECK_SECONDS, not on
every request; a key revoked through it is refused at once, and unknown keys are never
remembered."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api import auth
from api.core.settings import Settings
from api.main import create_app
from tests.keys import bearer, create_key


def test_a_stream_of_requests_costs_one_lookup_and_revoking_here_is_immediate(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[str] = []
    real_lookup = auth.lookup_key

    def counted(settings: Settings, token: str) -> auth.Principal | None:
        lookups.append(token)
        return real_lookup(settings, token)

    monkeypatch.setattr(auth, "lookup_key", counted)
    admin, user = create_key(settings, "team-a", admin=True), create_key(settings, "team-a")
    with TestClient(create_app(settings, run_reconciler=False)) as client:
        for _ in range(5):
            assert client.get("/v1/me", headers=bearer(user)).status_code == 200
        assert lookups == [user]
        for _ in range(3):
            assert client.get("/v1/me", headers=bearer("sslpt_unknown")).status_code == 401
        assert lookups.count("sslpt_unknown") == 3  # a miss is never remembered
        revoked = client.delete(f"/v1/keys/{user[:14]}", headers=bearer(admin))
        assert revoked.status_code == 200
        assert client.get("/v1/me", headers=bearer(user)).status_code == 401


def test_zero_recheck_seconds_checks_every_request(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[str] = []
    real_lookup = auth.lookup_key
    monkeypatch.setattr(
        auth, "lookup_key", lambda s, token: lookups.append(token) or real_lookup(s, token)
    )
    user = create_key(settings, "team-a")
    every = settings.model_copy(update={"key_recheck_seconds": 0})
    with TestClient(create_app(every, run_reconciler=False)) as client:
        for _ in range(3):
            assert client.get("/v1/me", headers=bearer(user)).status_code == 200
    assert len(lookups) == 3
