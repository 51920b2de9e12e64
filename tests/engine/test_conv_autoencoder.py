"""The convolutional encoder and decoder mirror each other's shapes."""

from __future__ import annotations

import pytest
import torch

from ssl_engine.conv_autoencoder import (
    CONV_AUTOENCODER_WIDTHS,
    ConvDecoder,
    ConvEncoder,
    conv_widths,
)


@pytest.mark.parametrize("name", sorted(CONV_AUTOENCODER_WIDTHS))
@pytest.mark.parametrize("image_size", [16, 32])
def test_decoder_returns_the_encoders_input_shape(name: str, image_size: int) -> None:
    widths = conv_widths(name, image_size)
    encoder, decoder = ConvEncoder(widths), ConvDecoder(widths)
    images = torch.rand(2, 3, image_size, image_size)
    code = encoder(images)
    side = image_size // encoder.downsampling
    assert code.shape == (2, encoder.out_channels, side, side)
    assert decoder(code).shape == images.shape


def test_unknown_names_and_odd_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown conv autoencoder"):
        conv_widths("conv_huge", 32)
    with pytest.raises(ValueError, match="divisible by 8"):
        conv_widths("conv_small", 20)
