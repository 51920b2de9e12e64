"""Energy requests per tenant and event streams per key are capped while in flight (429)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.core.persistence import api_keys
from api.core.persistence.db import session_scope
from api.core.persistence.tables import LOCAL_TENANT
from api.core.settings import Settings
from api.errors import ApiError
from api.in_flight import InFlightLimit
from tests.image_folders import image_bytes
from tests.serving.random_models import register_random_model


def test_the_limit_counts_per_owner_and_releases() -> None:
    limit = InFlightLimit(2, "things per owner")
    with limit.held("a"), limit.held("a"):
        with pytest.raises(ApiError) as refused:
            limit.acquire("a")
        assert refused.value.status_code == 429
        with limit.held("b"):  # another owner is not affected
            assert limit.count("b") == 1
    assert limit.count("a") == 0 and limit.count("b") == 0


def test_energy_requests_of_a_tenant_beyond_the_cap_are_429(
    serve: Callable[..., TestClient], settings: Settings, tmp_path: Path
) -> None:
    model = register_random_model(settings.resolved_database_url, tmp_path / "model")
    image = base64.b64encode(image_bytes()).decode()
    body = {"pairs": [{"x": image, "y": image}]}
    with serve(max_energy_in_flight=1) as client:
        limit: InFlightLimit = client.app.state.energy_limit  # type: ignore[attr-defined]
        with limit.held(LOCAL_TENANT):  # one request of the tenant is in flight
            refused = client.post(f"/v1/models/{model}/energy", json=body)
            assert refused.status_code == 429, refused.text
            assert refused.json()["code"] == "too_many_in_flight"
            assert refused.headers["Retry-After"] == "1"
        answered = client.post(f"/v1/models/{model}/energy", json=body)
        assert answered.status_code == 200, answered.text
        assert len(answered.json()["energies"]) == 1
        assert limit.count(LOCAL_TENANT) == 0  # released after the answer


def key_id(settings: Settings, api_key: str) -> str:
    with session_scope(settings.resolved_database_url, tenant=None) as session:
        key = api_keys.authenticate(session, api_key)
        assert key is not None
        return key.id


def test_event_streams_of_a_key_beyond_the_cap_are_429_and_a_closed_one_frees_its_place(
    serve: Callable[..., TestClient], settings: Settings, api_key: str
) -> None:
    with serve(max_streams_per_key=1) as client:
        limit: InFlightLimit = client.app.state.stream_limit  # type: ignore[attr-defined]
        with limit.held(key_id(settings, api_key)):
            refused = client.get("/v1/jobs/stream")
            assert refused.status_code == 429 and refused.json()["code"] == "too_many_in_flight"
        with client.stream("GET", "/v1/jobs/stream") as stream:
            assert stream.status_code == 200
            assert limit.count(key_id(settings, api_key)) == 1
        deadline = time.monotonic() + 10
        while limit.count(key_id(settings, api_key)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert limit.count(key_id(settings, api_key)) == 0
