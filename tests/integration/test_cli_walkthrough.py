"""The README's CLI walkthrough against real API + worker processes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.image_folders import image_bytes, make_image_folder
from tests.integration.services import running_service

pytestmark = pytest.mark.integration


def sslpt(service_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env={**service_env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_datasets_add_submit_watch_embed(tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "images")
    picture = tmp_path / "query.png"
    picture.write_bytes(image_bytes(2, seed=11))
    with running_service(tmp_path) as service:
        env = {**service.env, "SSLPT_API_URL": service.base_url}
        added = sslpt(env, "datasets", "add", "shapes", str(folder))
        assert added.returncode == 0, added.stderr
        dataset_id = json.loads(added.stdout)["id"]

        submitted = sslpt(
            env, "submit", "--dataset", dataset_id, "--method", "simclr", "--backbone", "tiny_cnn",
            "--epochs", "1", "--batch-size", "8", "--image-size", "16", "-p", "temperature=0.3",
        )  # fmt: skip
        assert submitted.returncode == 0, submitted.stderr
        job_id = submitted.stdout.strip()

        watched = sslpt(env, "watch", job_id, "--interval", "0.5")
        assert watched.returncode == 0, watched.stdout + watched.stderr
        assert "succeeded" in watched.stdout
        model_id = watched.stdout.strip().split()[-1]

        embedded = sslpt(env, "embed", model_id, str(picture), "--normalize")
        assert embedded.returncode == 0, embedded.stderr
        vector = json.loads(embedded.stdout)["embeddings"][0]
        assert abs(sum(v * v for v in vector) - 1.0) < 1e-4

        bad = sslpt(env, "submit", "--dataset", dataset_id, "-p", "temperature=-1")
        assert bad.returncode == 1
        assert "hyperparameters.temperature" in bad.stderr

        archive = Path(shutil.make_archive(str(tmp_path / "shapes"), "zip", folder))
        uploaded = sslpt(env, "datasets", "upload", "shapes-zip", str(archive))
        assert uploaded.returncode == 0, uploaded.stderr
        assert json.loads(uploaded.stdout)["image_count"] == 32
        dropped = sslpt(env, "rm", "dataset", json.loads(uploaded.stdout)["id"], "--yes")
        assert dropped.returncode == 0, dropped.stderr
        queued = sslpt(env, "datasets", "add", "again", str(folder), "--no-wait")
        assert queued.returncode == 0 and json.loads(queued.stdout)["state"] == "ingesting"

        workers = sslpt(env, "workers")
        assert workers.returncode == 0, workers.stderr
        assert "sslpt-ingest" in workers.stdout and "yes" in workers.stdout  # alive

        still_used = sslpt(env, "rm", "job", job_id, "--yes")
        assert still_used.returncode == 1 and "409 job_has_model" in still_used.stderr
        for kind, object_id in (("model", model_id), ("job", job_id)):
            removed = sslpt(env, "rm", kind, object_id, "--yes")
            assert removed.returncode == 0, removed.stderr
        gone = sslpt(env, "job", job_id)
        assert gone.returncode == 1 and "404" in gone.stderr

        no_key = sslpt({**env, "SSLPT_API_KEY": "sslpt_wrong"}, "datasets", "list")
        assert no_key.returncode == 1
        assert "401 invalid_api_key" in no_key.stderr
