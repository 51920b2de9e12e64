"""Serving precision over HTTP: the server's default (SSLPT_SERVING_PRECISION), a request's
own choice, the answer naming it, float32-exact vectors on request, and bf16 within a
cosine of 0.999 of float32."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

from api.core.settings import Settings
from ssl_engine.acceleration import serving_precision
from tests.image_folders import image_bytes
from tests.serving.random_models import register_random_model

PNGS = [image_bytes(i % 4, seed=i, size=40) for i in range(6)]


@pytest.fixture
def model_id(settings: Settings, tmp_path: Path) -> str:
    return register_random_model(
        settings.resolved_database_url, tmp_path / "model", backbone="resnet18", image_size=32
    )


def embed(client: TestClient, model_id: str, **options: str) -> dict[str, Any]:
    files = [("files", (f"{i}.png", png, "image/png")) for i, png in enumerate(PNGS)]
    response = client.post(f"/v1/models/{model_id}/embed", files=files, data=options)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_the_default_precision_and_float32_exact_vectors_on_request(
    serve: Callable[..., TestClient], model_id: str
) -> None:
    fast = serving_precision("auto", torch.device("cpu"))  # bf16 where the CPU has kernels
    with serve(device="cpu") as auto, serve(device="cpu", serving_precision="fp32") as exact:
        default = embed(auto, model_id)
        assert default["precision"] == fast
        assert embed(auto, model_id)["embeddings"] == default["embeddings"]  # repeatable
        asked = embed(auto, model_id, precision="fp32")
        reference = embed(exact, model_id)
        assert asked["precision"] == reference["precision"] == "fp32"
        assert asked["embeddings"] == reference["embeddings"]  # bit for bit
        warm = auto.post(f"/v1/models/{model_id}/warmup").json()
        assert warm["precision"] == fast


def test_bf16_vectors_agree_with_float32(serve: Callable[..., TestClient], model_id: str) -> None:
    with serve(device="cpu") as client:
        bf16 = torch.tensor(embed(client, model_id, precision="bf16")["embeddings"])
        fp32 = torch.tensor(embed(client, model_id, precision="fp32")["embeddings"])
    assert not torch.equal(bf16, fp32)  # bf16 really ran
    assert torch.nn.functional.cosine_similarity(bf16, fp32).min() >= 0.999


def test_json_and_energy_requests_choose_too_and_a_bad_choice_is_422(
    client: TestClient, model_id: str
) -> None:
    image = base64.b64encode(PNGS[0]).decode()
    url = f"/v1/models/{model_id}"
    answer = client.post(f"{url}/embed", json={"images": [image], "precision": "fp32"}).json()
    assert answer["precision"] == "fp32"
    pair = {"x": image, "y": image}
    energy = client.post(f"{url}/energy", json={"pairs": [pair], "precision": "bf16"}).json()
    assert energy["precision"] == "bf16" and abs(energy["energies"][0]) < 1e-5
    for bad in (
        client.post(f"{url}/embed", json={"images": [image], "precision": "fp8"}),
        client.post(f"{url}/embed", files=[("files", ("a.png", PNGS[0]))], data={"precision": "x"}),
        client.post(f"{url}/energy", json={"pairs": [pair], "precision": "half"}),
    ):
        assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "precision"
