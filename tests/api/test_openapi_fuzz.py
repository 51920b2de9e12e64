"""Property-based fuzzing of the whole OpenAPI schema with schemathesis, in process.

Every operation of ``/openapi.json`` is one sub-test: schemathesis generates valid and
invalid requests from the schema, sends them with a valid key and checks that none is
answered with a 5xx and that every answer (status, content type, headers, body) is one
the schema declares. A dataset, a queued job, a model, a succeeded dataset embedding and a
queued evaluation are made first, and generated ids are swapped for theirs half the time,
so that requests reach past the 404s too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.python.asgi import shutdown_lifespans

from api.main import create_app
from api.settings import Settings
from tests.image_folders import make_image_folder
from tests.keys import bearer
from tests.serving.random_models import register_random_model
from worker.embed_dataset import embed_dataset


def seed(settings: Settings, api_key: str, root: Path) -> dict[str, str]:
    """Real objects of the key's tenant, by path parameter name."""
    folder = make_image_folder(root / "images", per_class=4)
    # A separate app: its lifespan ends here, not under the fuzzed app's feet.
    with TestClient(create_app(settings, run_reconciler=False), headers=bearer(api_key)) as client:
        dataset = client.post("/v1/datasets", json={"name": "fuzz", "path": str(folder)})
        assert dataset.status_code == 201, dataset.text
        dataset_id = dataset.json()["id"]
        job = client.post(
            "/v1/jobs",
            json={
                "method": "simclr",
                "dataset_id": dataset_id,
                "backbone": "tiny_cnn",
                "batch_size": 8,
            },
        )
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
        return {
            "dataset_id": dataset_id,
            "job_id": job.json()["id"],
            "model_id": model_id,
            "embedding_id": embedding.json()["id"],
            "evaluation_id": evaluation.json()["id"],
            "name": "simclr",
        }


@pytest.fixture
def api_schema(settings: Settings, api_key: str, tmp_path: Path) -> Iterator[Any]:
    # No rate limit and no job quota: a fuzzer's burst would otherwise be answered 429 (a
    # declared status) from some point on and reach nothing deeper. Both have their own tests.
    settings = settings.model_copy(
        update={"rate_limit_per_second": 0.0, "max_active_jobs_per_tenant": 1_000_000}
    )
    ids = seed(settings, api_key, tmp_path)
    config = schemathesis.Config.from_dict({"headers": bearer(api_key)})
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(settings, run_reconciler=False), config=config
    )

    @schema.hook
    def flatmap_path_parameters(_context: Any, parameters: dict[str, Any]) -> Any:
        known = {name: ids[name] for name in parameters if name in ids}
        if not known:
            return st.just(parameters)
        return st.sampled_from([parameters, {**parameters, **known}])

    yield schema
    shutdown_lifespans()  # the fuzzed app's, started by schemathesis' in-process client


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_within_its_schema(case: Case) -> None:
    case.call_and_validate()
