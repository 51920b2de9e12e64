"""Access to every route, generated from the app's route table: a new route is covered
without anyone adding it here (and one this file cannot handle fails, asking for it).

* every ``/v1`` route: no key -> 401, an unknown key -> 401, a revoked key -> 401;
* every route naming a tenant's object: another tenant's key -> 404 (the owner's key, with
  the same request, is not a 404 for that object: the requests are real);
* admin routes: a key without the admin scope -> 403;
* only an explicit list of routes needs no key.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from api.core.persistence import api_keys
from api.core.persistence.db import session_scope
from api.core.settings import Settings
from api.main import create_app
from tests.image_folders import image_bytes, make_image_folder
from tests.ingest import register
from tests.keys import bearer, create_key
from tests.serving.random_models import register_random_model

KEY_FREE = {"/health", "/ready", "/metrics", "/", "/static", "/openapi.json", "/docs",
            "/docs/oauth2-redirect", "/redoc", "/docs-assets"}  # fmt: skip
OBJECT_PARAMS = {"dataset_id", "job_id", "model_id", "evaluation_id", "embedding_id"}
ADMIN_PARAMS = {"key_id", "tenant_id"}
# /v1/methods/{name}: the server's catalogue; {epoch}: a number within a job, not an object
OTHER_PARAMS = {"name", "epoch"}
PARAM = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # with {params}

    def params(self) -> set[str]:
        return set(PARAM.findall(self.path))


def route_table(app: FastAPI) -> list[Call]:
    calls = []
    for context in iter_route_contexts(app.routes):
        for method in sorted(getattr(context, "methods", None) or {"GET"}):
            if method != "HEAD":
                calls.append(Call(method, context.path))
    return calls


def image_b64() -> str:
    return base64.b64encode(image_bytes()).decode()


def request_for(call: Call, ids: dict[str, str]) -> dict[str, Any]:
    """A well-formed request of ``call`` (so only access, not validation, can refuse it)."""
    path = call.path.format(**ids)
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/v1/models/{model_id}/embed"): {"json": {"images": [image_b64()]}},
        ("POST", "/v1/models/{model_id}/energy"): {
            "json": {"pairs": [{"x": image_b64(), "y": image_b64()}]}
        },
        ("POST", "/v1/models/{model_id}/search"): {"json": {"image": image_b64(), "k": 1}},
        ("POST", "/v1/models/{model_id}/reconstruct"): {"json": {"images": [image_b64()]}},
        ("POST", "/v1/models/{model_id}/evaluate"): {"json": {"dataset_id": ids["dataset_id"]}},
        ("POST", "/v1/models/{model_id}/embeddings"): {"json": {"dataset_id": ids["dataset_id"]}},
        ("GET", "/v1/models/{model_id}/export"): {"params": {"format": "safetensors"}},
    }
    # The owner's deletes are refused with a 409 (its job is queued, its model has a queued
    # probe, its dataset a queued job), so every object is still there for later calls.
    no_body = {
        ("POST", "/v1/jobs/{job_id}/cancel"),
        ("POST", "/v1/models/{model_id}/warmup"),
        ("DELETE", "/v1/jobs/{job_id}"),
        ("DELETE", "/v1/models/{model_id}"),
        ("DELETE", "/v1/datasets/{dataset_id}"),
    }
    key = (call.method, call.path)
    if key in bodies:
        return {"method": call.method, "url": path, **bodies[key]}
    if call.method == "GET" or key in no_body:
        return {"method": call.method, "url": path}
    raise AssertionError(f"{key}: add a well-formed request for this new route to request_for")


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings, run_reconciler=False)


@pytest.fixture
def owner(app: FastAPI, api_key: str) -> Iterator[TestClient]:
    with TestClient(app, headers=bearer(api_key)) as client:
        yield client


@pytest.fixture
def ids(owner: TestClient, settings: Settings, tmp_path: Path) -> dict[str, str]:
    """One object of every kind, all of the owner's tenant (``local``)."""
    folder = make_image_folder(tmp_path / "labeled")
    dataset = register(owner, folder)
    model_id = register_random_model(
        settings.resolved_database_url, tmp_path / "model", dataset_path=folder
    )
    job = owner.post(
        "/v1/jobs",
        json={"method": "simclr", "dataset_id": dataset["id"], "backbone": "tiny_cnn",
              "batch_size": 4, "epochs": 1},
    )  # fmt: skip
    evaluation = owner.post(f"/v1/models/{model_id}/evaluate", json={"dataset_id": dataset["id"]})
    embedding = owner.post(f"/v1/models/{model_id}/embeddings", json={"dataset_id": dataset["id"]})
    for answer in (job, evaluation, embedding):
        assert answer.status_code in (201, 202), answer.text
    return {
        "dataset_id": dataset["id"],
        "job_id": job.json()["id"],
        "model_id": model_id,
        "evaluation_id": evaluation.json()["id"],
        "embedding_id": embedding.json()["id"],
        "name": "simclr",
        "epoch": "0",
        "key_id": "0" * 32,
        "tenant_id": "someone",
    }


def test_only_the_listed_routes_need_no_key(app: FastAPI) -> None:
    paths = {call.path for call in route_table(app)}
    assert {p for p in paths if not p.startswith("/v1/")} == KEY_FREE


def test_every_v1_route_refuses_a_missing_unknown_or_revoked_key(
    app: FastAPI, settings: Settings
) -> None:
    revoked = create_key(settings, "local")
    with session_scope(settings.resolved_database_url, tenant=None) as session:
        key = api_keys.authenticate(session, revoked)
        assert key is not None and api_keys.revoke_key(session, key.id)
    headers: list[dict[str, str]] = [
        {},
        bearer("sslpt_" + "x" * 40),
        bearer(revoked),
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ]
    calls = [c for c in route_table(app) if c.path.startswith("/v1/")]
    assert len(calls) > 25
    with TestClient(app) as client:
        for call in calls:
            url = call.path.format(**{p: "0" * 32 for p in call.params()})
            for header in headers:
                response = client.request(call.method, url, headers=header, json={})
                assert response.status_code == 401, (call, header, response.text)
                assert response.headers["www-authenticate"].startswith("Bearer")
                assert response.json()["code"] in {
                    "missing_api_key",
                    "invalid_api_key",
                    "invalid_authorization",
                }


def test_another_tenants_objects_are_404_on_every_route(
    app: FastAPI, owner: TestClient, settings: Settings, ids: dict[str, str]
) -> None:
    object_calls = [c for c in route_table(app) if c.params() & OBJECT_PARAMS]
    for call in route_table(app):
        unknown = call.params() - OBJECT_PARAMS - ADMIN_PARAMS - OTHER_PARAMS
        assert not unknown, f"{call}: classify the path parameter(s) {unknown} in this test"
    assert len(object_calls) >= 17
    with TestClient(app, headers=bearer(create_key(settings, "team-b"))) as other:
        for call in object_calls:
            request = request_for(call, ids)
            refused = other.request(**request)
            assert refused.status_code == 404, (call, refused.text)
            code = refused.json()["code"]
            assert code.endswith("_not_found"), (call, code)
            if call.path.endswith("/stream"):
                continue  # the owner's stream of a queued job would never end
            # the same request by the owner does not find that object missing
            allowed = owner.request(**request)
            assert allowed.status_code < 500, (call, allowed.text)
            assert not (allowed.status_code == 404 and allowed.json()["code"] == code), (
                call,
                allowed.text,
            )


def test_lists_and_streams_show_only_the_callers_objects(
    app: FastAPI, owner: TestClient, settings: Settings, ids: dict[str, str]
) -> None:
    with TestClient(app, headers=bearer(create_key(settings, "team-b"))) as other:
        for path in ("/v1/datasets", "/v1/jobs", "/v1/models"):
            assert other.get(path).json()["total"] == 0, path
            assert owner.get(path).json()["total"] >= 1, path
        # a body naming the other tenant's dataset finds nothing either
        job = {"method": "simclr", "dataset_id": ids["dataset_id"], "batch_size": 4}
        refused = other.post("/v1/jobs", json=job)
        assert refused.status_code == 422 and "no dataset" in refused.text
        # an Idempotency-Key is the tenant's own: the same key makes a separate job
        folder = make_image_folder(settings.data_dir.parent / "b-images")
        mine = register(other, folder, "b")
        body = {**job, "dataset_id": mine["id"]}
        first = owner.post("/v1/jobs", json=job, headers={"Idempotency-Key": "k1"})
        second = other.post("/v1/jobs", json=body, headers={"Idempotency-Key": "k1"})
        assert (first.status_code, second.status_code) == (201, 201)
        assert first.json()["id"] != second.json()["id"]


def test_admin_routes_need_the_admin_scope(app: FastAPI, settings: Settings) -> None:
    admin_calls = [
        c
        for c in route_table(app)
        if c.params() & ADMIN_PARAMS or c.path in ("/v1/keys", "/v1/tenants")
    ]
    assert len(admin_calls) == 5
    bodies = {"POST": {"tenant": "x"}, "PUT": {"max_active_jobs": 3}}
    with TestClient(app, headers=bearer(create_key(settings, "team-b"))) as plain:
        for call in admin_calls:
            url = call.path.format(key_id="0" * 32, tenant_id="team-b")
            response = plain.request(call.method, url, json=bodies.get(call.method))
            assert response.status_code == 403, (call, response.text)
            assert response.json()["code"] == "admin_required"
