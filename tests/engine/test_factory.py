"""Building methods from recipes, and loading them back for serving."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
import torch
from safetensors.torch import save_file

from ssl_engine.factory import build_method
from ssl_engine.inference import embed_images, load_for_inference
from ssl_engine.methods.simclr import SimCLR
from ssl_engine.recipe import Recipe


def test_builds_with_validated_hyperparameters() -> None:
    method = build_method(Recipe("simclr", "resnet18", 32, {"temperature": 0.2}))
    assert isinstance(method, SimCLR)
    assert method.hparams.temperature == 0.2
    assert method.embed_dim == 512  # resnet18


@pytest.mark.parametrize("hyperparameters", [{"temperature": -1.0}, {"temperatur": 0.2}])
def test_bad_hyperparameters_raise_pydantics_validation_error(
    hyperparameters: dict[str, float],
) -> None:
    with pytest.raises(pydantic.ValidationError):
        build_method(Recipe("simclr", "tiny_cnn", 16, hyperparameters))


def test_disallowed_backbone_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"allowed: \['tiny_cnn', 'resnet18'"):
        build_method(Recipe("simclr", "vit_b_16", 16))


def test_unknown_method_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"known: .*'simclr'"):
        build_method(Recipe("simclr2", "tiny_cnn", 16))


def test_loaded_model_embeds_like_the_trained_one(tmp_path: Path) -> None:
    hyperparameters = {"projection_dim": 16}
    torch.manual_seed(0)
    trained = build_method(Recipe("simclr", "tiny_cnn", 16, hyperparameters))
    with torch.no_grad():  # move BatchNorm's running statistics off their defaults
        trained.train().embed(torch.rand(8, 3, 16, 16))
    weights = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in trained.state_dict().items()}, str(weights))

    served = load_for_inference(
        weights, Recipe("simclr", "tiny_cnn", 16, hyperparameters), torch.device("cpu")
    )
    images = torch.rand(5, 3, 16, 16)
    embeddings = embed_images(served, images, normalize=False)
    unit = embed_images(served, images, normalize=True)

    assert not served.training
    assert embeddings.shape == (5, served.embed_dim) and embeddings.dtype == torch.float32
    with torch.no_grad():
        torch.testing.assert_close(embeddings, trained.eval().embed(images))
    torch.testing.assert_close(unit.norm(dim=1), torch.ones(5))


def test_loading_weights_of_another_shape_fails(tmp_path: Path) -> None:
    other = build_method(Recipe("simclr", "tiny_cnn", 16, {"projection_dim": 8}))
    weights = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(weights))
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_for_inference(weights, Recipe("simclr", "tiny_cnn", 16), torch.device("cpu"))


def test_embed_images_rejects_non_image_batches() -> None:
    model = build_method(Recipe("simclr", "tiny_cnn", 16))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        embed_images(model, torch.rand(3, 16, 16), normalize=True)
