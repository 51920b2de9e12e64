"""GET /v1/models/{id}/samples and POST /v1/models/{id}/reconstruct: PNG grids for the
methods that make images, a clear 4xx for the rest and for bad input."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image

from api.core.settings import Settings
from tests.image_folders import image_bytes
from tests.keys import bearer, create_key
from tests.serving.random_models import register_random_model

TILE = 16 + 2  # a 16 px image and the padding before it


def _png_size(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.size


def _b64(seed: int) -> str:
    return base64.b64encode(image_bytes(0, seed=seed)).decode()


def test_a_vae_draws_samples_and_reconstructs(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    vae = register_random_model(
        settings.resolved_database_url, tmp_path / "vae", method="vae", backbone="conv_small"
    )
    drawn = client.get(f"/v1/models/{vae}/samples", params={"n": 16, "seed": 1})
    assert drawn.status_code == 200, drawn.text
    assert drawn.headers["content-type"] == "image/png"
    assert _png_size(drawn.content) == (4 * TILE + 2, 4 * TILE + 2)
    assert client.get(f"/v1/models/{vae}/samples", params={"n": 16, "seed": 1}).content == (
        drawn.content
    )
    pairs = client.post(f"/v1/models/{vae}/reconstruct", json={"images": [_b64(1), _b64(2)]})
    assert pairs.status_code == 200, pairs.text
    assert _png_size(pairs.content) == (4 * TILE + 2, TILE + 2)  # (given, made) x 2

    for params in ({"n": 0}, {"n": 257}, {"seed": -1}):
        assert client.get(f"/v1/models/{vae}/samples", params=params).status_code == 422
    bad = client.post(f"/v1/models/{vae}/reconstruct", json={"images": ["not base64!"]})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_base64")
    too_many = client.post(f"/v1/models/{vae}/reconstruct", json={"images": [_b64(1)] * 257})
    assert too_many.status_code == 422


def test_embedding_models_have_no_pictures_and_other_tenants_none_of_ours(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    simclr = register_random_model(settings.resolved_database_url, tmp_path / "simclr")
    refused = client.get(f"/v1/models/{simclr}/samples")
    assert (refused.status_code, refused.json()["code"]) == (422, "no_pictures")
    assert "does not generate" in refused.json()["message"]
    refused = client.post(f"/v1/models/{simclr}/reconstruct", json={"images": [_b64(1)]})
    assert (refused.status_code, refused.json()["code"]) == (422, "no_pictures")
    other = bearer(create_key(settings, "team-b"))
    assert client.get(f"/v1/models/{simclr}/samples", headers=other).status_code == 404
