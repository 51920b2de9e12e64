"""MAE-specific behaviour: the mask, visible-only encoding, the fixed energy mask."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from ssl_engine import vit
from ssl_engine.methods.base import Batch
from ssl_engine.methods.mae import MAE, MAEHyperparameters, random_masking

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _small_vit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 2-block, 32-wide "vit_tiny", so that training in a test takes a second."""
    monkeypatch.setitem(vit.VIT_SIZES, "vit_tiny", vit.ViTSize(dim=32, depth=2, heads=2))


def _mae(**overrides: object) -> MAE:
    torch.manual_seed(0)
    hparams = MAEHyperparameters(decoder_dim=32, decoder_depth=1, decoder_heads=2, **overrides)
    return MAE(backbone="vit_tiny", image_size=16, hparams=hparams).eval()


@pytest.mark.parametrize(("ratio", "hidden"), [(0.75, 12), (0.5, 8), (0.9, 15), (0.01, 1)])
def test_mask_hides_the_requested_share_of_patches(ratio: float, hidden: int) -> None:
    keep, mask = random_masking(3, 16, ratio, device=CPU)
    assert keep.shape == (3, 16 - hidden)
    assert (mask.sum(dim=1) == hidden).all()
    for row_keep, row_mask in zip(keep, mask, strict=True):
        assert len(set(row_keep.tolist())) == len(row_keep)  # no patch kept twice
        assert not row_mask[row_keep].any()  # kept patches are exactly the visible ones


def test_masks_differ_per_sample_unless_shared() -> None:
    torch.manual_seed(0)
    _, mask = random_masking(8, 16, 0.75, device=CPU)
    assert len({tuple(row.tolist()) for row in mask}) > 1
    _, shared = random_masking(8, 16, 0.75, device=CPU, shared=True)
    assert (shared == shared[0]).all()


def test_encoder_never_sees_the_hidden_patches() -> None:
    method = _mae()
    images = torch.rand(2, 3, 16, 16)
    keep, mask = random_masking(2, 16, 0.75, device=CPU, shared=True)
    changed = images.clone()
    hidden = mask[0].nonzero().squeeze(1)  # patch ids on the 4 x 4 grid
    for patch in hidden.tolist():
        row, col = divmod(patch, 4)
        changed[:, :, 4 * row : 4 * row + 4, 4 * col : 4 * col + 4] = 0.5
    with torch.no_grad():
        torch.testing.assert_close(method.encoder(changed, keep), method.encoder(images, keep))


def test_energy_uses_one_fixed_mask() -> None:
    method = _mae()
    x, y = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    with torch.no_grad():
        first = method.energy(x, y)
        torch.manual_seed(123)  # the global RNG must not matter
        second = method.energy(x, y)
        alone = method.energy(x[:1], y[:1])  # nor the batch an input comes in
    torch.testing.assert_close(first, second)
    torch.testing.assert_close(alone, first[:1])


def test_embed_averages_tokens_of_the_whole_image() -> None:
    method = _mae()
    images = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        tokens = method.encoder(images)  # (B, 1 + 16, D)
        torch.testing.assert_close(method.embed(images), tokens[:, 1:].mean(dim=1))
    assert tokens.shape == (2, 17, 32)


def test_training_step_reports_the_reconstruction_term() -> None:
    method = _mae().train()
    output = method.training_step(Batch(images=torch.rand(4, 3, 16, 16), indices=torch.arange(4)))
    assert output.metrics["loss_reconstruction"] == pytest.approx(output.loss.item())
    assert output.embeddings is not None and output.embeddings.shape == (4, method.embed_dim)


def test_decoder_width_must_split_into_heads() -> None:
    with pytest.raises(ValidationError, match="decoder_heads"):
        MAEHyperparameters(decoder_dim=130, decoder_heads=4)


def test_hidden_patches_are_predicted_from_the_visible_ones() -> None:
    """On one-colour images the visible patches reveal the hidden ones: MAE must use them."""
    method = _mae(normalize_target=False)  # normalised one-colour patches would all be 0
    method.augment = torch.nn.Identity()  # type: ignore[assignment]
    colours = torch.rand(32, 3, 1, 1, generator=torch.Generator().manual_seed(1))
    images = colours.expand(32, 3, 16, 16).contiguous()
    optimizer = torch.optim.AdamW(method.parameters(), lr=3e-3)
    method.train()
    for step in range(80):
        rows = torch.arange(16) + 16 * (step % 2)
        loss = method.training_step(Batch(images=images[rows], indices=rows)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    method.eval()
    with torch.no_grad():
        own = method.energy(images, images).mean()
        other = method.energy(images, images.roll(1, dims=0)).mean()
    assert own < 0.5 * other
