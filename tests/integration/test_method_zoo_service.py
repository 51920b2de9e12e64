"""Every registered method trains through the HTTP API and a real worker, then serves."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.image_folders import image_bytes, make_image_folder
from tests.integration.services import register_folder, running_service, wait_for_job

pytestmark = pytest.mark.integration


def smallest_backbone(method: dict[str, object]) -> str:
    allowed = method["allowed_backbones"]
    assert isinstance(allowed, list)
    return "tiny_cnn" if "tiny_cnn" in allowed else str(allowed[0])


def test_every_method_trains_embeds_and_scores_energy(tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=8)
    x = base64.b64encode(image_bytes(0, seed=1)).decode()
    y = base64.b64encode(image_bytes(3, seed=2)).decode()
    with (
        running_service(tmp_path) as service,
        service.client(timeout=60) as client,
    ):
        dataset_id = register_folder(client, folder, "d")
        methods = client.get("/v1/methods").json()
        assert len(methods) >= 1

        def submit(method: dict[str, object], **extra: str) -> str:
            body = {
                "method": method["name"],
                "dataset_id": dataset_id,
                "backbone": smallest_backbone(method),
                "image_size": 16,
                "epochs": 1,
                "batch_size": 16,
                **extra,
            }
            response = client.post("/v1/jobs", json=body)
            assert response.status_code == 201, (method["name"], response.text)
            return str(response.json()["id"])

        # Methods that learn from a parent model (ClusterFit) get the first one trained.
        first, *rest = [m for m in methods if m["parent_role"] != "teacher"]
        submitted = {first["name"]: submit(first)}
        submitted.update({str(m["name"]): submit(m) for m in rest})
        parent = wait_for_job(client, submitted[first["name"]], timeout=300)["model_id"]
        for method in methods:
            if method["parent_role"] == "teacher":
                submitted[method["name"]] = submit(method, parent_model_id=str(parent))
        assert set(submitted) == {m["name"] for m in methods}
        for name, job_id in submitted.items():
            job = wait_for_job(client, job_id, timeout=300)
            assert job["status"] == "succeeded", (name, job)
            model_id = job["model_id"]
            model = client.get(f"/v1/models/{model_id}").json()
            embedded = client.post(f"/v1/models/{model_id}/embed", json={"images": [x, y]})
            assert embedded.status_code == 200, (name, embedded.text)
            assert embedded.json()["dim"] == model["embed_dim"]
            energy = client.post(
                f"/v1/models/{model_id}/energy",
                json={"pairs": [{"x": x, "y": x}, {"x": x, "y": y}]},
            )
            assert energy.status_code == 200, (name, energy.text)
            energies = energy.json()["energies"]
            assert len(energies) == 2 and all(e == e for e in energies)  # finite, not NaN
