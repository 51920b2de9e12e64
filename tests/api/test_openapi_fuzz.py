"""Property-based fuzzing of the whole OpenAPI schema with schemathesis, in process.

Every operation of the app's OpenAPI schema is one test: schemathesis generates valid and
invalid requests from the schema (its examples, coverage and fuzzing phases), sends them to
the app with a valid key and checks that none is answered with a 5xx and that every answer
(status code, content type, headers, body) is one the schema declares.

A dataset, a queued job, a model, a succeeded dataset embedding and a queued evaluation
are made first. Half the generated requests get their ids, a method name and real images
where the schema only says "a string", so that requests get past the 404s and 422s to the
code behind them too, and some bodies carry hostile file paths (a NUL byte, a name over
255 bytes, a symlink loop, a FIFO) for the dataset folder and its items.

Deterministic (``derandomize``) and bounded: ``max_examples`` per operation.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.python.asgi import shutdown_lifespans

from api.core.persistence.migrate import upgrade
from api.core.persistence.tables import LOCAL_TENANT
from api.core.settings import Settings
from api.main import create_app
from tests.image_folders import image_bytes, make_image_folder
from tests.ingest import register
from tests.keys import bearer, create_key
from tests.serving.random_models import register_random_model
from worker.embed_dataset import embed_dataset

# GET /v1/models/{id}/export traces the model to ONNX: torch warns about its own exporter.
pytestmark = pytest.mark.filterwarnings(
    "ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning", "ignore::FutureWarning"
)

MAX_EXAMPLES = 25  # per operation and phase: the file runs in about 30 s on 2 cores
ADMIN_PATHS = ("/v1/keys", "/v1/tenants")  # sent with an admin key (of another tenant)


def openapi_document() -> dict[str, Any]:
    """The app's schema, read at collection. It does not depend on the settings (the app
    under test is made later, with its own); the scratch app only creates broker folders."""
    with tempfile.TemporaryDirectory() as scratch:
        return create_app(Settings(data_dir=Path(scratch)), run_reconciler=False).openapi()


# Loaded at collection and given the app under test at each call: the lazy loader
# (schemathesis.pytest.from_fixture, 4.32.5) fails on pytest 9.2, whose nodes have no
# ``_nodeid`` any more.
schema = schemathesis.openapi.from_dict(
    openapi_document(),
    config=schemathesis.Config.from_dict(
        {
            # A hung request fails its case rather than the whole run (pytest-timeout).
            "request-timeout": 30,
            # The job streams never end: schemathesis' in-process client cuts each
            # answer after its first event (the stream opens with the seeded job).
            "max-stream-events": 1,
            "checks": {
                # Every other check runs: not_a_server_error, status_code_conformance,
                # content_type_conformance, response_headers_conformance,
                # response_schema_conformance, unsupported_method, ...
                #
                # Expects every request outside the schema to be refused, but FastAPI reads
                # leniently by design: pydantic's lax mode takes ``"admin": 0`` as false and
                # a numeric string as a number, a multipart field is text ("1" is true) and
                # a query string's invalid UTF-8 is replaced, not refused. That is about
                # what is accepted, not about answers outside the schema.
                "negative_data_rejection": {"enabled": False},
                # Expects every schema-valid request to succeed, but what a JSON schema
                # cannot say is checked by the API and answered with a documented 422:
                # that a dataset_id names an existing dataset, that a string is base64 of
                # a decodable image, "exactly one of image or vector", a batch size no
                # larger than the dataset.
                "positive_data_acceptance": {"enabled": False},
                # Re-sends each case without its key through a network client, which needs
                # a live server; tests/api/test_route_access.py sends every route of the
                # route table without a key, with an unknown one and with a revoked one.
                "ignored_auth": {"enabled": False},
            },
        }
    ),
)


# ---- realistic values where the schema says "a string" ---------------------------------

# Filled in by the ``fuzzed`` fixture before any case is drawn: the seeded objects' ids by
# the name of the parameter or field that carries them (``dataset_id``, ``job_id``, ...),
# the dataset's folder (``path``) and a method (``name``, GET /v1/methods/{name}).
SEEDED: dict[str, str] = {}
REAL_IMAGE = image_bytes()
IMAGE_FIELDS = {"images", "image", "x", "y"}  # base64 image files in JSON bodies
FILE_FIELDS = {"files", "file"}  # image files in multipart bodies
REAL_PATH = "red/red_000.jpg"  # an image of the seeded dataset (tests.image_folders)


def realistic(value: Any, key: str | None = None, *, path_parameters: bool = False) -> Any:
    """``value`` with seeded ids, real images and dataset paths where the names say so.

    Only strings are replaced, by strings (files by files), and lists keep their length.
    (This may make a case generated to be invalid valid: no check that runs minds.)
    """
    if isinstance(value, dict):
        return {k: realistic(v, k, path_parameters=path_parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [realistic(item, key, path_parameters=path_parameters) for item in value]
    if isinstance(value, str):
        if key in SEEDED and (path_parameters or key != "name"):  # a dataset's name is free
            return SEEDED[key]
        if key in IMAGE_FIELDS:
            return base64.b64encode(REAL_IMAGE).decode()
        if key == "paths":
            return REAL_PATH
        if key == "method":
            return SEEDED["name"]
    if key in FILE_FIELDS and isinstance(value, bytes):
        return REAL_IMAGE
    return value


# Paths the file system refuses or that hang a careless reader, for the ``path`` of
# POST /v1/datasets (absolute, under the allowed root) and the ``paths`` of dataset items
# (relative to the seeded dataset). ``seed`` makes the link loop and the FIFO.
HOSTILE_RELATIVE = ["a\x00b.png", "x" * 300 + ".png", "loop/x.png", "red/fifo.png"]


def hostile(value: Any, relative: str, key: str | None = None) -> Any:
    """``value`` with every ``path`` and ``paths`` string replaced by a hostile path."""
    if isinstance(value, dict):
        return {k: hostile(v, relative, k) for k, v in value.items()}
    if isinstance(value, list):
        return [hostile(item, relative, key) for item in value]
    if isinstance(value, str) and key == "paths":
        return relative
    if isinstance(value, str) and key == "path":
        return f"{SEEDED['path']}/{relative}"
    return value


# Each generated part, or its realistic version: one strategy draw decides. Bodies may also
# carry hostile paths (with the seeded ids, so that they reach the file system).
@schema.hook
def flatmap_path_parameters(_context: Any, value: Any) -> Any:
    return st.sampled_from([value, realistic(value, path_parameters=True)])


@schema.hook
def flatmap_query(_context: Any, value: Any) -> Any:
    return st.sampled_from([value, realistic(value)])


@schema.hook
def flatmap_body(_context: Any, value: Any) -> Any:
    real = realistic(value)
    return st.sampled_from([value, real, *(hostile(real, path) for path in HOSTILE_RELATIVE)])


# ---- archive bodies for POST /v1/datasets/upload -----------------------------------------


def as_bytes(value: Any) -> bytes:
    """A generated body as bytes: binary strings are bytes or schemathesis' ``Binary``;
    negative cases may be any JSON value."""
    if isinstance(value, bytes):
        return value
    if isinstance(getattr(value, "data", None), bytes):
        return bytes(value.data)
    if isinstance(value, str):
        return value.encode(errors="ignore")
    return json.dumps(value, default=str).encode()


def archive_body(media_type: str, payload: bytes) -> bytes:
    """Odd-length bodies as generated (hardly ever an archive: a 415); even-length ones in
    an archive of ``media_type`` with a real image beside them, so that fuzzed uploads get
    through extraction and scanning to a 201 too."""
    if len(payload) % 2:
        return payload
    members = {"real/image.png": REAL_IMAGE, "fuzz/body.png": payload}
    buffer = io.BytesIO()
    if media_type == "application/zip":
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    else:
        gzip = media_type == "application/gzip"
        with tarfile.open(fileobj=buffer, mode="w:gz" if gzip else "w:") as archive:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# schemathesis has no serializer for archive media types (the request would not be sent).
@schemathesis.serializer("application/zip", "application/x-tar", "application/gzip")
def _archive(context: Any, value: Any) -> bytes:
    return archive_body(context.case.media_type, as_bytes(value))


# ---- the app under test ----------------------------------------------------------------


@dataclass
class Fuzzed:
    app: FastAPI
    headers: dict[str, str]  # a key of the local tenant
    admin_headers: dict[str, str]  # an admin key of another tenant


def seed(settings: Settings, api_key: str, root: Path) -> dict[str, str]:
    """Real objects of the key's tenant, by the names that carry their ids."""
    folder = make_image_folder(root / "images", per_class=4)
    # A separate app: its lifespan ends here, not under the fuzzed app's feet.
    with TestClient(create_app(settings, run_reconciler=False), headers=bearer(api_key)) as client:
        dataset_id = register(client, folder, "fuzz")["id"]
        job = client.post(
            "/v1/jobs",
            json={"method": "simclr", "dataset_id": dataset_id, "backbone": "tiny_cnn",
                  "batch_size": 8},
        )  # fmt: skip
        assert job.status_code == 201, job.text
        model_id = register_random_model(
            settings.resolved_database_url, root / "model", dataset_path=folder
        )
        embedding = client.post(
            f"/v1/models/{model_id}/embeddings", json={"dataset_id": dataset_id}
        )
        assert embedding.status_code == 202, embedding.text
        assert embed_dataset(settings, embedding.json()["id"]) == "succeeded"
        evaluation = client.post(f"/v1/models/{model_id}/evaluate", json={"dataset_id": dataset_id})
        assert evaluation.status_code == 202, evaluation.text
        (folder / "loop").symlink_to(folder / "loop")  # resolving it is ELOOP
        os.mkfifo(folder / "red" / "fifo.png")  # opened for reading, it waits for a writer
        return {
            "dataset_id": dataset_id,
            "job_id": job.json()["id"],
            "model_id": model_id,
            "embedding_id": embedding.json()["id"],
            "evaluation_id": evaluation.json()["id"],
            "name": "simclr",  # GET /v1/methods/{name}
            "path": str(folder),  # POST /v1/datasets
        }


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """One seeded app for every operation: tests/conftest.py's ``settings`` and ``client``,
    module-wide (seeding a model and an embedding for each operation would take minutes)."""
    root = tmp_path_factory.mktemp("fuzz")
    # No rate limits and no job quota: a fuzzer's burst would otherwise be answered 429 (a
    # declared status) from some point on and reach nothing deeper. Both have their own tests.
    settings = Settings(
        data_dir=root / "data",
        dataset_roots=[root],
        rate_limit_per_second=0.0,
        address_rate_limit_per_second=0.0,
        max_active_jobs_per_tenant=1_000_000,
    )
    upgrade(settings.resolved_database_url)
    api_key = create_key(settings, LOCAL_TENANT)
    admin_key = create_key(settings, "fuzz-admin", admin=True)
    SEEDED.update(seed(settings, api_key, root))
    yield Fuzzed(create_app(settings, run_reconciler=False), bearer(api_key), bearer(admin_key))
    SEEDED.clear()
    shutdown_lifespans()  # the fuzzed app's, started by schemathesis' in-process client


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_within_its_schema(case: Case, fuzzed: Fuzzed) -> None:
    admin = case.path.startswith(ADMIN_PATHS)
    headers = fuzzed.admin_headers if admin else fuzzed.headers
    case.call_and_validate(app=fuzzed.app, headers=dict(headers))  # a copy: it adds to it


def test_integers_past_what_sql_stores_are_a_422_not_a_500(client: TestClient) -> None:
    """What the fuzzer found first: ``offset=2**63`` overflowed the SQLite driver (a 500).

    The fuzzer draws such a value only by chance, so the bound is checked here too (an
    unknown job: without the bound these would be 404s, or a 500 for the lists).
    """
    job = "0" * 32
    for url in (
        "/v1/datasets?offset=",
        "/v1/jobs?offset=",
        "/v1/models?offset=",
        f"/v1/jobs/{job}/metrics?since_step=",
        f"/v1/jobs/{job}/stream?after_metric=",
        f"/v1/jobs/{job}/stream?after_event=",
    ):
        response = client.get(f"{url}{2**63}")
        assert response.status_code == 422, (url, response.text)
        assert response.json()["code"] == "validation_error"
