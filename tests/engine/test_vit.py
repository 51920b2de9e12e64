"""The ViT encoder and MAE decoder: patch order, positions, subsets of patches."""

from __future__ import annotations

import pytest
import torch

from ssl_engine.vit import (
    VIT_SIZES,
    MAEDecoder,
    ViTEncoder,
    ViTSize,
    build_vit_encoder,
    patch_size_for,
    patchify,
    sincos_position_embedding,
)

SMALL = ViTSize(dim=32, depth=2, heads=2)


def test_patchify_matches_a_naive_row_major_cut() -> None:
    images = torch.rand(2, 3, 8, 8)
    patches = patchify(images, 4)  # (B, 4, 48)
    for b in range(2):
        for index in range(4):
            row, col = divmod(index, 2)
            crop = images[b, :, 4 * row : 4 * row + 4, 4 * col : 4 * col + 4]  # (3, 4, 4)
            expected = [crop[c, y, x].item() for y in range(4) for x in range(4) for c in range(3)]
            assert patches[b, index].tolist() == pytest.approx(expected)


def test_sincos_embedding_shape_and_origin() -> None:
    pos = sincos_position_embedding(4, 16)  # (16, 16)
    assert pos.shape == (16, 16)
    # Position (0, 0): every sine is 0 and every cosine 1.
    assert pos[0].tolist() == [0.0] * 4 + [1.0] * 4 + [0.0] * 4 + [1.0] * 4
    assert len({tuple(row.tolist()) for row in pos}) == 16  # every position distinct


def test_patch_sizes_grow_with_the_image() -> None:
    assert [patch_size_for(s) for s in (16, 32, 64, 96, 224)] == [4, 4, 4, 8, 16]


def test_encoding_all_patches_in_order_equals_encoding_without_a_subset() -> None:
    torch.manual_seed(0)
    encoder = ViTEncoder(image_size=16, patch_size=4, size=SMALL).eval()
    images = torch.rand(2, 3, 16, 16)
    everything = torch.arange(16).expand(2, -1)
    with torch.no_grad():
        torch.testing.assert_close(encoder(images, everything), encoder(images))
        assert encoder(images, everything[:, :5]).shape == (2, 6, 32)


def test_decoder_predicts_every_patch_from_visible_tokens() -> None:
    torch.manual_seed(0)
    decoder = MAEDecoder(num_patches=16, encoder_dim=32, dim=16, depth=1, heads=2, patch_dim=48)
    keep = torch.tensor([[0, 5, 9], [3, 2, 1]])
    tokens = torch.randn(2, 4, 32, requires_grad=True)
    out = decoder(tokens, keep)
    assert out.shape == (2, 16, 48)
    out.sum().backward()
    assert tokens.grad is not None and decoder.mask_token.grad is not None


def test_named_sizes_build_and_reject_unknown_names() -> None:
    assert set(VIT_SIZES) == {"vit_micro", "vit_tiny", "vit_small"}
    assert build_vit_encoder("vit_tiny", 32).num_patches == 64
    with pytest.raises(ValueError, match="unknown ViT"):
        build_vit_encoder("vit_huge", 32)
    with pytest.raises(ValueError, match="divisible"):
        ViTEncoder(image_size=18, patch_size=4, size=SMALL)
