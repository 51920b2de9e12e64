"""Exports load outside sslpt and compute what ``embed`` computes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
import torchvision
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn

from ssl_engine.export import export_model, how_to_load, trunk_weights
from ssl_engine.factory import build_method
from ssl_engine.methods.base import IMAGENET_MEAN, IMAGENET_STD, Method
from ssl_engine.recipe import Recipe

# Tracing warns about Python-level checks it freezes and the legacy ONNX exporter about
# itself; the tests compare outputs at other batch sizes, which is what those warn about.
pytestmark = pytest.mark.filterwarnings(
    "ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning", "ignore::FutureWarning"
)

CARD = {"method": {"name": "test"}, "metrics": {"loss": 1.0}}


def trained_like(method: str, backbone: str, image_size: int) -> Method:
    """A method with random weights and non-trivial BatchNorm statistics, in eval mode."""
    torch.manual_seed(0)
    model = build_method(Recipe(method, backbone, image_size))
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def reference(model: Method, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.embed(images)  # (B, D)


@pytest.mark.parametrize("image_size", [16, 96])  # with and without the CIFAR stem
def test_safetensors_backbone_loads_into_plain_torchvision_resnet(
    tmp_path: Path, image_size: int
) -> None:
    model = trained_like("simclr", "resnet18", image_size)
    path = tmp_path / "model.safetensors"
    export_model(model, "safetensors", path, image_size, CARD)

    plain = torchvision.models.resnet18()
    plain.fc = nn.Identity()
    hint = how_to_load(model, "resnet18", "safetensors")
    if image_size <= 64:
        assert "m.conv1 = " in hint
        plain.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        plain.maxpool = nn.Identity()
    plain.load_state_dict(load_file(str(path)))  # strict: every key matches torchvision's
    plain.eval()

    images = torch.rand(3, 3, image_size, image_size)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        features = plain((images - mean) / std)  # (3, 512)
    torch.testing.assert_close(features, reference(model, images), atol=1e-5, rtol=1e-4)
    with safe_open(str(path), "pt") as exported:
        assert json.loads(exported.metadata()["model_card"]) == CARD


def test_safetensors_of_a_non_torchvision_trunk_loads_into_the_engine_module(
    tmp_path: Path,
) -> None:
    model = trained_like("simclr", "tiny_cnn", 16)
    path = tmp_path / "model.safetensors"
    export_model(model, "safetensors", path, 16, CARD)
    fresh = build_method(Recipe("simclr", "tiny_cnn", 16))
    fresh.encoder_module().trunk.load_state_dict(load_file(str(path)))  # type: ignore[union-attr]
    assert set(load_file(str(path))) == set(trunk_weights(model))
    images = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(reference(fresh.eval(), images), reference(model, images))


EMBED_GRAPHS = [("simclr", "tiny_cnn", 16), ("mae", "vit_micro", 16), ("vae", "conv_small", 16)]


@pytest.mark.parametrize(("method", "backbone", "image_size"), EMBED_GRAPHS)
def test_torchscript_matches_embed_at_any_batch_size(
    tmp_path: Path, method: str, backbone: str, image_size: int
) -> None:
    model = trained_like(method, backbone, image_size)
    path = tmp_path / "model.pt"
    export_model(model, "torchscript", path, image_size, CARD)
    files = {"model_card.json": ""}
    loaded = torch.jit.load(str(path), _extra_files=files)
    assert json.loads(files["model_card.json"]) == CARD
    images = torch.rand(5, 3, image_size, image_size)  # not the traced batch size
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), reference(model, images), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(("method", "backbone", "image_size"), EMBED_GRAPHS)
def test_onnx_under_onnxruntime_matches_embed(
    tmp_path: Path, method: str, backbone: str, image_size: int
) -> None:
    model = trained_like(method, backbone, image_size)
    path = tmp_path / "model.onnx"
    export_model(model, "onnx", path, image_size, CARD)
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(props["model_card"]) == CARD
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = torch.rand(5, 3, image_size, image_size)
    (vectors,) = session.run(None, {"images": images.numpy()})
    np.testing.assert_allclose(vectors, reference(model, images).numpy(), atol=1e-4, rtol=1e-3)
