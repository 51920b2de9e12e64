"""A warm start copies the parent's encoder and nothing else; mismatches are named."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from ssl_engine.factory import build_method
from ssl_engine.methods.byol import BYOL
from ssl_engine.methods.moco_v2 import MoCoV2
from ssl_engine.parent_models import encoder_mismatch, start_from_parent
from ssl_engine.recipe import Recipe


def _saved(recipe: Recipe, path: Path) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(1)
    parent = build_method(recipe)
    weights = path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in parent.state_dict().items()}, str(weights))
    return weights, parent


def test_the_child_embeds_like_its_parent_and_keeps_its_own_heads(tmp_path: Path) -> None:
    parent_recipe = Recipe("simclr", "tiny_cnn", 16)
    weights, parent = _saved(parent_recipe, tmp_path)
    torch.manual_seed(2)
    child = build_method(Recipe("vicreg", "tiny_cnn", 16, {"projection_dim": 32}))
    expander = {k: v.clone() for k, v in child.expander.state_dict().items()}
    start_from_parent(child, parent_recipe, weights)
    images = torch.rand(4, 3, 16, 16)
    parent.eval(), child.eval()
    with torch.no_grad():
        torch.testing.assert_close(child.embed(images), parent.embed(images))
    for key, value in child.expander.state_dict().items():
        assert torch.equal(value, expander[key]), key


def test_momentum_encoders_restart_from_the_parents_weights(tmp_path: Path) -> None:
    parent_recipe = Recipe("simclr", "tiny_cnn", 16)
    weights, parent = _saved(parent_recipe, tmp_path)
    for recipe, copy_name in (
        (Recipe("byol", "tiny_cnn", 16), "target_backbone"),
        (Recipe("moco_v2", "tiny_cnn", 16, {"queue_size": 16}), "key_backbone"),
    ):
        torch.manual_seed(3)
        child = build_method(recipe)
        assert isinstance(child, BYOL | MoCoV2)
        start_from_parent(child, parent_recipe, weights)
        momentum_copy = getattr(child, copy_name).state_dict()
        for key, value in parent.encoder_module().state_dict().items():
            assert torch.equal(momentum_copy[key], value), (recipe.method, key)


def test_matching_encoders_across_methods_and_the_reasons_they_do_not_match() -> None:
    simclr = Recipe("simclr", "resnet18", 32)
    assert encoder_mismatch(simclr, Recipe("deepercluster", "resnet18", 32)) is None
    assert encoder_mismatch(simclr, Recipe("byol", "resnet18", 64)) is None  # same stem
    other = encoder_mismatch(simclr, Recipe("byol", "tiny_cnn", 32))
    assert other is not None and "backbone is resnet18" in other
    stem = encoder_mismatch(simclr, Recipe("simclr", "resnet18", 224))
    assert stem is not None and "32px" in stem and "conv1" in stem
    vit = encoder_mismatch(Recipe("mae", "vit_micro", 32), Recipe("mae", "vit_micro", 64))
    assert vit is not None and "64px" in vit and "ViT" in vit
