"""Two teams on one real service (API + worker processes, PostgreSQL + Redis): keys made
over HTTP, each team's datasets, jobs and models invisible to the other, artifacts in
separate folders, a revoked key refused at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.image_folders import image_bytes, make_image_folder
from tests.integration.services import (
    production_service,
    register_folder,
    wait_for_dataset,
    wait_for_job,
)

pytestmark = pytest.mark.integration
TINY = {"method": "simclr", "backbone": "tiny_cnn", "image_size": 16, "epochs": 1, "batch_size": 8}


def test_two_tenants_share_a_service_and_see_nothing_of_each_other(tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=4)
    archive = Path(shutil.make_archive(str(tmp_path / "b-images"), "zip", folder))
    with production_service(tmp_path) as service, service.client() as local:
        made = local.post("/v1/keys", json={"tenant": "team-b", "name": "b's laptop"})
        assert made.status_code == 201, made.text
        team_b = {"Authorization": f"Bearer {made.json()['key']}"}
        with httpx.Client(base_url=service.base_url, headers=team_b, timeout=60) as other:
            mine = local.post(
                "/v1/jobs", json={**TINY, "dataset_id": register_folder(local, folder)}
            )
            job = wait_for_job(local, mine.json()["id"])
            assert job["status"] == "succeeded", job
            model_id = job["model_id"]

            for path in (f"/v1/jobs/{job['id']}", f"/v1/models/{model_id}"):
                refused = other.get(path)
                assert refused.status_code == 404, (path, refused.text)
            embed = other.post(
                f"/v1/models/{model_id}/embed",
                files=[("files", ("x.png", image_bytes(), "image/png"))],
            )
            assert embed.status_code == 404
            for path in ("/v1/datasets", "/v1/jobs", "/v1/models"):
                assert other.get(path).json()["total"] == 0, path

            uploaded = other.post(
                "/v1/datasets/upload", params={"name": "b"}, content=archive.read_bytes()
            )
            assert uploaded.status_code == 202, uploaded.text
            assert wait_for_dataset(other, uploaded.json()["id"])["state"] == "ready"
            theirs = other.post("/v1/jobs", json={**TINY, "dataset_id": uploaded.json()["id"]})
            assert wait_for_job(other, theirs.json()["id"])["status"] == "succeeded"
            assert local.get("/v1/jobs").json()["total"] == 1
            assert other.get("/v1/jobs").json()["total"] == 1

            tenants = service.data_dir / "artifacts" / "tenants"
            assert Path(uploaded.json()["path"]).is_relative_to(tenants / "team-b" / "datasets")
            assert (tenants / "local" / "models" / model_id / "model.safetensors").is_file()
            assert len(list((tenants / "team-b" / "models").iterdir())) == 1

            assert local.delete(f"/v1/keys/{made.json()['prefix']}").status_code == 200
            revoked = other.get("/v1/datasets")
            assert (revoked.status_code, revoked.json()["code"]) == (401, "invalid_api_key")
