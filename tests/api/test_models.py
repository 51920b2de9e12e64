from __future__ import annotations

import base64
import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.core.settings import Settings
from tests.image_folders import image_bytes
from tests.keys import bearer
from tests.serving.random_models import register_random_model


@pytest.fixture
def model_id(settings: Settings, tmp_path: Path) -> str:
    """A SimCLR model (random weights) registered as if a job had produced it."""
    return register_random_model(settings.resolved_database_url, tmp_path / "model")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_list_and_get_models(client: TestClient, model_id: str) -> None:
    page = client.get("/v1/models").json()
    assert [m["id"] for m in page["items"]] == [model_id]
    model = client.get(f"/v1/models/{model_id}").json()
    assert (model["method"], model["embed_dim"], model["image_size"]) == ("simclr", 64, 16)


def test_embed_multipart_and_json_agree_and_repeat_exactly(
    client: TestClient, model_id: str
) -> None:
    png, jpeg = image_bytes(0, seed=1), image_bytes(2, seed=2, fmt="JPEG")
    files = [("files", ("a.png", png, "image/png")), ("files", ("b.jpg", jpeg, "image/jpeg"))]
    multipart = client.post(f"/v1/models/{model_id}/embed", files=files)
    assert multipart.status_code == 200, multipart.text
    body = multipart.json()
    assert body["model"] == model_id and body["dim"] == 64
    assert len(body["embeddings"]) == 2
    as_json = client.post(f"/v1/models/{model_id}/embed", json={"images": [b64(png), b64(jpeg)]})
    assert as_json.json()["embeddings"] == body["embeddings"]


def test_embed_normalize_gives_unit_vectors(client: TestClient, model_id: str) -> None:
    response = client.post(
        f"/v1/models/{model_id}/embed", json={"images": [b64(image_bytes())], "normalize": True}
    )
    vector = response.json()["embeddings"][0]
    assert math.isclose(sum(v * v for v in vector), 1.0, rel_tol=1e-4)


def test_grayscale_and_rgba_inputs_are_accepted(client: TestClient, model_id: str) -> None:
    import io

    from PIL import Image

    images = []
    for mode in ("L", "RGBA"):
        buffer = io.BytesIO()
        Image.new(mode, (20, 20)).save(buffer, format="PNG")
        images.append(b64(buffer.getvalue()))
    response = client.post(f"/v1/models/{model_id}/embed", json={"images": images})
    assert response.status_code == 200
    assert len(response.json()["embeddings"]) == 2


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [
        ({"json": {"images": ["not base64!"]}}, 422, "invalid_base64"),
        ({"json": {"images": [b64(b"plain text, not an image")]}}, 422, "invalid_image"),
        ({"json": {"images": []}}, 422, "validation_error"),
        ({"json": {"pictures": []}}, 422, "validation_error"),
        (
            {"content": b"raw", "headers": {"content-type": "text/plain"}},
            415,
            "unsupported_media_type",
        ),
        ({"files": [("other", ("a.png", b"x", "image/png"))]}, 422, "validation_error"),
    ],
)
def test_bad_embed_requests_are_4xx_with_a_code(
    client: TestClient, model_id: str, request_kwargs: dict[str, object], status: int, code: str
) -> None:
    response = client.post(f"/v1/models/{model_id}/embed", **request_kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_too_many_images_is_413(api_key: str, settings: Settings, model_id: str) -> None:
    from api.main import create_app

    small = settings.model_copy(update={"max_embed_images": 2})
    with TestClient(create_app(small, run_reconciler=False), headers=bearer(api_key)) as client:
        images = [b64(image_bytes(seed=i)) for i in range(3)]
        response = client.post(f"/v1/models/{model_id}/embed", json={"images": images})
    assert response.status_code == 413
    assert response.json()["code"] == "too_many_images"


def test_energy_scores_each_pair(client: TestClient, model_id: str) -> None:
    x, y = b64(image_bytes(0, seed=1)), b64(image_bytes(3, seed=2))
    response = client.post(
        f"/v1/models/{model_id}/energy", json={"pairs": [{"x": x, "y": x}, {"x": x, "y": y}]}
    )
    assert response.status_code == 200, response.text
    same, different = response.json()["energies"]
    assert same == pytest.approx(0.0, abs=1e-5)  # 1 - cos(f(x), f(x))
    assert different > same


def test_unknown_model_is_404_on_every_route(client: TestClient) -> None:
    assert client.get("/v1/models/nope").status_code == 404
    embed = client.post("/v1/models/nope/embed", json={"images": [b64(image_bytes())]})
    assert embed.status_code == 404 and embed.json()["code"] == "model_not_found"
    pair = {"x": b64(image_bytes()), "y": b64(image_bytes())}
    assert client.post("/v1/models/nope/energy", json={"pairs": [pair]}).status_code == 404
