"""Sample and reconstruction grids: the right size, repeatable by seed, and for MAE the
visible patches shown as they are."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from ssl_engine.factory import build_method
from ssl_engine.methods.mae import MAE
from ssl_engine.pictures import grid_png, reconstructions_png, samples_png
from ssl_engine.recipe import Recipe
from ssl_engine.vit import patchify, unpatchify

SIZE = 16
TILE = SIZE + 2  # each tile and the padding before it


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image


def _images(n: int) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))


def test_vae_samples_are_a_square_grid_that_the_seed_repeats() -> None:
    torch.manual_seed(0)
    vae = build_method(Recipe("vae", "conv_small", SIZE))
    first = samples_png(vae, 16, seed=3, max_side=1024)
    assert _png(first).size == (4 * TILE + 2, 4 * TILE + 2)
    assert samples_png(vae, 16, seed=3, max_side=1024) == first
    assert samples_png(vae, 16, seed=4, max_side=1024) != first


@pytest.mark.parametrize(
    ("method", "backbone"), [("mae", "vit_micro"), ("dae", "conv_small"), ("vae", "conv_small")]
)
def test_reconstructions_pair_each_input_with_the_output(method: str, backbone: str) -> None:
    torch.manual_seed(0)
    model = build_method(Recipe(method, backbone, SIZE))
    picture = _png(reconstructions_png(model, _images(3), seed=0, max_side=1024))
    assert picture.size == (6 * TILE + 2, TILE + 2)  # one row: 3 (given, made) pairs


def test_mae_hides_patches_in_grey_and_keeps_the_visible_ones() -> None:
    torch.manual_seed(0)
    mae = build_method(Recipe("mae", "vit_micro", SIZE))
    assert isinstance(mae, MAE)
    images = _images(2)
    given, made = mae.eval().reconstruct(images)
    patch = mae.encoder.patch_size
    hidden = (patchify(given, patch) == 0.5).all(dim=-1)  # (B, N)
    assert hidden.float().mean().item() == pytest.approx(mae.hparams.mask_ratio, abs=0.1)
    torch.testing.assert_close(patchify(made, patch)[~hidden], patchify(images, patch)[~hidden])
    assert torch.equal(unpatchify(patchify(images, patch), patch), images)


def test_large_grids_are_scaled_down_and_embedding_methods_have_no_pictures() -> None:
    assert max(_png(grid_png(_images(64), columns=8, max_side=64)).size) == 64
    simclr = build_method(Recipe("simclr", "tiny_cnn", SIZE))
    with pytest.raises(ValueError, match="does not generate"):
        samples_png(simclr, 4, seed=0, max_side=64)
    with pytest.raises(ValueError, match="does not reconstruct"):
        reconstructions_png(simclr, _images(2), seed=0, max_side=64)
