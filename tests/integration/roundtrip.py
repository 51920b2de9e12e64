"""The README walkthrough as a function: dataset -> SimCLR job -> model -> embedding."""

from __future__ import annotations

from pathlib import Path

from tests.image_folders import image_bytes
from tests.integration.services import Service, register_folder, wait_for_job

TINY_SIMCLR = {
    "method": "simclr",
    "backbone": "tiny_cnn",
    "image_size": 16,
    "epochs": 2,
    "batch_size": 8,
    "seed": 3,
}


def simclr_roundtrip(service: Service, folder: Path) -> None:
    with service.client(timeout=60) as client:
        dataset_id = register_folder(client, folder)
        submitted = client.post("/v1/jobs", json={**TINY_SIMCLR, "dataset_id": dataset_id})
        assert submitted.status_code == 201, submitted.text
        job_id = submitted.json()["id"]

        job = wait_for_job(client, job_id)
        assert job["status"] == "succeeded", job
        events = client.get(f"/v1/jobs/{job_id}/events").json()
        transitions = [e["to_status"] for e in events if e["kind"] == "transition"]
        assert transitions == ["queued", "running", "succeeded"]
        progress = job["progress"]
        assert isinstance(progress, dict)
        total = progress["total_steps"]
        # 32 images, some held out for kNN evaluation: at least 2 batches of 8 per epoch.
        assert total >= 4 and progress["step"] == total

        series = client.get(f"/v1/jobs/{job_id}/metrics").json()["series"]
        assert [p["step"] for p in series["loss"]] == list(range(1, total + 1))
        tenant_folder = service.data_dir / "artifacts" / "tenants" / "local"
        # Succeeded: the published weights are the result, the checkpoints are gone
        # (SSLPT_KEEP_CHECKPOINTS / training.keep_checkpoints, docs/operations.md).
        assert not list((tenant_folder / "jobs" / job_id).rglob("model.safetensors"))
        assert (tenant_folder / "models" / job["model_id"] / "model.safetensors").is_file()

        model_id = job["model_id"]
        model = client.get(f"/v1/models/{model_id}").json()
        assert model["embed_dim"] == 64  # tiny_cnn's feature size
        picture = image_bytes(1, seed=7)
        first = client.post(
            f"/v1/models/{model_id}/embed", files=[("files", ("a.png", picture, "image/png"))]
        )
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["dim"] == 64
        assert len(body["embeddings"]) == 1 and len(body["embeddings"][0]) == 64
        again = client.post(
            f"/v1/models/{model_id}/embed", files=[("files", ("a.png", picture, "image/png"))]
        )
        assert again.json()["embeddings"] == body["embeddings"]
