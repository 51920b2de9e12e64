"""GET /v1/models/{id}/export: a zip of the file and its model card, loadable and faithful."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
import torchvision
from fastapi.testclient import TestClient
from safetensors.torch import load_file
from torch import nn

from api.core.settings import Settings
from ssl_engine.data.formats import decode_image_bytes
from ssl_engine.inference import embed_images, load_for_inference
from ssl_engine.recipe import Recipe
from tests.image_folders import image_bytes
from tests.serving.random_models import register_random_model

# Tracing warns about Python-level checks it freezes and the legacy ONNX exporter about
# itself; the tests compare outputs at other batch sizes, which is what those warn about.
pytestmark = pytest.mark.filterwarnings(
    "ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning", "ignore::FutureWarning"
)


@pytest.fixture
def model_id(settings: Settings, tmp_path: Path) -> str:
    """A torchvision ResNet-18 (CIFAR stem at 16 px), for the torchvision round trip."""
    return register_random_model(
        settings.resolved_database_url, tmp_path / "model", backbone="resnet18", image_size=16
    )


@pytest.fixture
def tiny_model_id(settings: Settings, tmp_path: Path) -> str:
    """A tiny CNN: graph exports of every method are checked in tests/serving/test_export.py."""
    return register_random_model(settings.resolved_database_url, tmp_path / "tiny")


def download(client: TestClient, model_id: str, fmt: str, tmp_path: Path) -> tuple[Path, dict]:
    response = client.get(f"/v1/models/{model_id}/export", params={"format": fmt})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
        bundle.extractall(tmp_path / fmt)
        card = json.loads(bundle.read("model_card.json"))
    (file,) = [p for p in (tmp_path / fmt).iterdir() if p.name != "model_card.json"]
    return file, card


def served_vectors(client: TestClient, model_id: str, pngs: list[bytes]) -> np.ndarray:
    """The served vectors at float32, as a user comparing with an export asks for them."""
    files = [("files", (f"{i}.png", png, "image/png")) for i, png in enumerate(pngs)]
    url = f"/v1/models/{model_id}/embed"
    answer = client.post(url, files=files, data={"precision": "fp32"}).json()
    assert answer["precision"] == "fp32"
    return np.array(answer["embeddings"], dtype=np.float32)  # (N, D)


PNGS = [image_bytes(c, seed=c) for c in range(3)]


def inputs() -> torch.Tensor:
    return torch.stack([decode_image_bytes(png, 16) for png in PNGS])  # (3, 3, 16, 16)


def test_the_model_card_says_what_how_and_how_well(
    client: TestClient, model_id: str, tmp_path: Path
) -> None:
    _, card = download(client, model_id, "safetensors", tmp_path)
    assert card["method"]["name"] == "simclr" and card["method"]["paper"]
    assert (card["backbone"], card["image_size"], card["embed_dim"]) == ("resnet18", 16, 512)
    assert card["data"]["name"] == "d"
    assert card["training"]["epochs"] == 1 and card["metrics"] == {"loss": 1.0}
    assert card["hyperparameters"] == {}
    assert card["preprocessing"]["normalize"]["mean"] == [0.485, 0.456, 0.406]
    assert "torchvision.models.resnet18()" in card["export"]["load"]


def test_safetensors_loads_into_torchvision_and_matches_the_served_vectors(
    client: TestClient, model_id: str, tmp_path: Path
) -> None:
    file, _ = download(client, model_id, "safetensors", tmp_path)
    plain = torchvision.models.resnet18()
    plain.fc = nn.Identity()
    plain.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)  # the card's CIFAR-stem instructions
    plain.maxpool = nn.Identity()
    plain.load_state_dict(load_file(str(file)))
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        features = plain.eval()((inputs() - mean) / std).numpy()
    np.testing.assert_allclose(
        features, served_vectors(client, model_id, PNGS), atol=1e-4, rtol=1e-3
    )


def test_torchscript_and_onnx_match_the_served_vectors(
    client: TestClient, tiny_model_id: str, tmp_path: Path
) -> None:
    served = served_vectors(client, tiny_model_id, PNGS)
    script, _ = download(client, tiny_model_id, "torchscript", tmp_path)
    with torch.no_grad():
        scripted = torch.jit.load(str(script))(inputs()).numpy()
    np.testing.assert_allclose(scripted, served, atol=1e-4, rtol=1e-3)
    graph, _ = download(client, tiny_model_id, "onnx", tmp_path)
    session = onnxruntime.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    (onnx_vectors,) = session.run(None, {"images": inputs().numpy()})
    np.testing.assert_allclose(onnx_vectors, served, atol=1e-4, rtol=1e-3)


def test_exports_are_built_once_and_reused(
    client: TestClient, tiny_model_id: str, tmp_path: Path
) -> None:
    url = f"/v1/models/{tiny_model_id}/export"
    first = client.get(url, params={"format": "onnx"}).content
    archive = tmp_path / "tiny" / "exports" / "onnx.zip"  # beside the model's weights
    stamp = archive.stat().st_mtime_ns
    assert client.get(url, params={"format": "onnx"}).content == first
    assert archive.stat().st_mtime_ns == stamp


def test_unknown_format_is_422_and_unknown_model_404(
    client: TestClient, tiny_model_id: str
) -> None:
    url = f"/v1/models/{tiny_model_id}/export"
    assert client.get(url, params={"format": "pkl"}).status_code == 422
    missing = client.get("/v1/models/nope/export", params={"format": "onnx"})
    assert missing.status_code == 404 and missing.json()["code"] == "model_not_found"


def test_the_served_model_is_the_exported_one(
    client: TestClient, model_id: str, tmp_path: Path
) -> None:
    """Guard against comparing an export with itself: the direct engine path agrees too."""
    weights = tmp_path / "model" / "model.safetensors"
    method = load_for_inference(weights, Recipe("simclr", "resnet18", 16), torch.device("cpu"))
    direct = embed_images(method, inputs(), normalize=False).numpy()
    np.testing.assert_allclose(direct, served_vectors(client, model_id, PNGS), atol=1e-5, rtol=1e-4)
