"""Models built on models: a job names a parent model, its encoder starts from the
parent's, the model it publishes records the chain, and deleting an ancestor breaks no
descendant (the worker in-process, SQLite)."""

from __future__ import annotations

import base64
from pathlib import Path

import torch
from fastapi.testclient import TestClient
from safetensors.torch import load_file

from api.core.persistence import trained_models
from api.core.persistence.db import session_scope
from api.core.persistence.tables import LOCAL_TENANT, JobStatus
from api.core.settings import Settings
from tests.image_folders import image_bytes, make_image_folder
from tests.ingest import register
from tests.keys import create_key
from tests.serving.random_models import register_random_model
from tests.worker.jobs_in_db import events, job_row, submit
from worker.run_job import run_job


def _weights(settings: Settings, model_id: str) -> dict[str, torch.Tensor]:
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        model = trained_models.get_model(session, model_id)
        assert model is not None
        return load_file(model.weights_path)


def _train(settings: Settings, folder: Path, **fields: object) -> str:
    job_id = submit(settings, folder, **fields)
    assert run_job(settings, job_id) == JobStatus.SUCCEEDED
    model_id = job_row(settings, job_id).model_id
    assert model_id is not None
    return model_id


def test_a_chain_of_models_records_its_lineage_and_survives_deleting_an_ancestor(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    images = make_image_folder(tmp_path / "images", per_class=4, labeled=False)  # 16
    root = _train(settings, images)
    # The child trains with a zero learning rate: its encoder stays the parent's exactly,
    # while a from-scratch start (other seed) would differ.
    frozen = {"lr": 0.0, "warmup_fraction": 0.0}
    child_job = submit(
        settings, images, method="byol", seed=7, training=frozen, parent_model_id=root
    )
    assert run_job(settings, child_job) == JobStatus.SUCCEEDED
    (started,) = [e.reason for e in events(settings, child_job) if e.kind == "parent_model"]
    assert root in started
    child = job_row(settings, child_job).model_id
    assert child is not None
    root_weights, child_weights = _weights(settings, root), _weights(settings, child)
    running_statistics = ("running_mean", "running_var", "num_batches_tracked")
    for name, value in root_weights.items():  # parameters; BatchNorm statistics move
        if name.startswith("backbone.") and not name.endswith(running_statistics):
            torch.testing.assert_close(child_weights[name], value, msg=name)
            torch.testing.assert_close(child_weights["target_" + name], value, msg=name)
    grandchild = _train(settings, images, method="vicreg", parent_model_id=child)
    clustered = _train(  # ClusterFit: the parent labels the data, the child starts fresh
        settings, images, method="clusterfit", hyperparameters={"num_clusters": 4},
        parent_model_id=root,
    )  # fmt: skip
    clustered_weights = _weights(settings, clustered)
    assert "pseudo_labels" in clustered_weights
    assert not torch.equal(
        clustered_weights["backbone.trunk.0.weight"], root_weights["backbone.trunk.0.weight"]
    )

    shown = client.get(f"/v1/models/{grandchild}").json()
    assert shown["parent_model_id"] == child
    assert [(a["model_id"], a["method"]) for a in shown["lineage"]] == [
        (child, "byol"),
        (root, "simclr"),
    ]
    assert client.get(f"/v1/models/{root}").json()["lineage"] == []

    assert client.delete(f"/v1/models/{child}").status_code == 204
    shown = client.get(f"/v1/models/{grandchild}").json()
    assert shown["parent_model_id"] is None
    assert [a["deleted"] for a in shown["lineage"]] == [True, False]
    png = base64.b64encode(image_bytes(0, seed=1)).decode()
    embedded = client.post(f"/v1/models/{grandchild}/embed", json={"images": [png]})
    assert embedded.status_code == 200 and embedded.json()["dim"] == 64


def test_a_parent_must_be_the_callers_and_fit_the_job(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=2, labeled=False)
    dataset = str(register(client, folder, "images")["id"])
    url = settings.resolved_database_url
    parent = register_random_model(url, tmp_path / "parent", image_size=32)
    create_key(settings, "team-b")
    theirs = register_random_model(url, tmp_path / "theirs", tenant="team-b")
    body = {"method": "byol", "dataset_id": dataset, "batch_size": 4, "image_size": 32}

    def submit_with(parent_id: str | None, **changes: object) -> tuple[int, dict[str, object]]:
        answer = client.post("/v1/jobs", json={**body, **changes, "parent_model_id": parent_id})
        return answer.status_code, answer.json()

    assert submit_with("nope", backbone="tiny_cnn")[0] == 404
    status, error = submit_with(theirs, backbone="tiny_cnn")
    assert (status, error["code"]) == (404, "model_not_found")
    status, error = submit_with(parent, backbone="resnet18")
    assert (status, error["code"]) == (422, "validation_error")
    assert "backbone is tiny_cnn" in str(error)
    status, job = submit_with(parent, backbone="tiny_cnn")
    assert status == 201 and job["parent_model_id"] == parent
    status, error = submit_with(None, method="clusterfit")  # it cannot train without one
    assert (status, error["code"]) == (422, "validation_error")
    assert "parent model" in str(error)
    status, _ = submit_with(parent, method="clusterfit", backbone="resnet18")  # any parent
    assert status == 201

    refused = client.delete(f"/v1/models/{parent}")  # a queued job still needs it
    assert refused.status_code == 409 and refused.json()["code"] == "model_in_use"
    assert f"job {job['id']}" in refused.text
