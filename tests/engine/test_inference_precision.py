"""Serving's fast path: which precision "auto" means on a device, weights stored
channels_last and cast for autocast once at load (bit-identical to casting on every call,
for every method), and energies reduced in float32 under autocast."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ssl_engine import acceleration
from ssl_engine.acceleration import serving_precision
from ssl_engine.factory import build_method
from ssl_engine.inference import cast_for_autocast, embed_images, energies, load_for_inference
from ssl_engine.methods.registry import METHODS
from ssl_engine.recipe import Recipe
from tests.engine.test_method_contract import IMAGE_SIZE, build

CPU = torch.device("cpu")
RECIPE = Recipe("simclr", "resnet18", 32)


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "model.safetensors"
    state = build_method(RECIPE).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


@pytest.mark.parametrize("has_kernels", [True, False])
def test_auto_is_bf16_only_where_the_device_has_bf16_kernels(
    monkeypatch: pytest.MonkeyPatch, has_kernels: bool
) -> None:
    monkeypatch.setattr(acceleration, "_cpu_has_bf16_kernels", lambda: has_kernels)
    assert serving_precision("auto", CPU) == ("bf16" if has_kernels else "fp32")
    assert serving_precision("fp32", CPU) == "fp32"  # asked for: always honoured
    assert serving_precision("bf16", CPU) == "bf16"


def test_auto_on_a_gpu_without_bf16_is_fp16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(acceleration, "bf16_supported", lambda _device: False)
    assert serving_precision("auto", torch.device("cuda")) == "fp16"


def test_weights_are_stored_channels_last_once_at_load(weights: Path) -> None:
    fast = load_for_inference(weights, RECIPE, CPU)
    plain = load_for_inference(weights, RECIPE, CPU, channels_last=False)
    conv = fast.encoder_module().trunk.conv1.weight  # type: ignore[union-attr]
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert not plain.encoder_module().trunk.conv1.weight.is_contiguous(  # type: ignore[union-attr]
        memory_format=torch.channels_last
    )
    images = torch.rand(4, 3, 32, 32)
    torch.testing.assert_close(  # the layout changes speed, not the function
        embed_images(fast, images, normalize=False, precision="fp32"),
        embed_images(plain, images, normalize=False, precision="fp32"),
        atol=1e-4,
        rtol=1e-4,
    )


def test_bf16_vectors_are_float32_and_close_to_fp32(weights: Path) -> None:
    model = load_for_inference(weights, RECIPE, CPU)
    images = torch.rand(8, 3, 32, 32)
    bf16 = embed_images(model, images, normalize=False, precision="bf16")
    fp32 = embed_images(model, images, normalize=False, precision="fp32")
    assert bf16.dtype == torch.float32 and not torch.equal(bf16, fp32)  # bf16 really ran
    assert torch.nn.functional.cosine_similarity(bf16, fp32).min() >= 0.999


def test_a_pair_of_one_image_has_zero_energy_at_bf16(weights: Path) -> None:
    model = load_for_inference(weights, RECIPE, CPU)
    x = torch.rand(3, 3, 32, 32)
    found = energies(model, x, x, precision="bf16")
    assert found.dtype == torch.float32
    assert found.abs().max() < 1e-5  # cos reduced in float32, not bf16 (0.0039 steps)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_casting_once_gives_exactly_what_autocast_gives_for_every_method(name: str) -> None:
    torch.manual_seed(0)
    model = build(name).eval()
    cast = cast_for_autocast(model, "bf16")
    x, y = torch.rand(4, 3, IMAGE_SIZE, IMAGE_SIZE), torch.rand(4, 3, IMAGE_SIZE, IMAGE_SIZE)
    assert torch.equal(
        embed_images(cast, x, normalize=False, precision="bf16"),
        embed_images(model, x, normalize=False, precision="bf16"),
    )
    assert torch.equal(energies(cast, x, y, "bf16"), energies(model, x, y, "bf16"))
    assert cast_for_autocast(model, "fp32") is model
