"""What the convolutional autoencoding methods share (denoising AE, VAE): the conv
encoder and decoder sized by the backbone name, crop-and-flip views, and the optimizer.

Both papers trained small networks with their own optimizers (SGD, Adagrad); for a
BatchNorm conv autoencoder AdamW at lr 1e-3 per 256 images is the standard CIFAR choice,
and Adam's step does not depend on the loss scale (a reconstruction loss summed over
3 * H * W pixels is large). No weight decay: the objective needs none to stay well posed.
"""

from __future__ import annotations

from ssl_engine.augment import ViewAugment
from ssl_engine.augment.presets import crop_flip_config
from ssl_engine.conv_autoencoder import ConvEncoder, conv_widths
from ssl_engine.methods.base import Method, OptimizerDefaults


class ConvAutoencodingMethod(Method):
    # No reference CIFAR recipe exists for these: Adam's usual 1e-3, warmed up for one
    # epoch of the 15-epoch run they were measured on (bench/RESULTS.md).
    optimizer_defaults = OptimizerDefaults(
        name="adamw",
        lr=1e-3,
        weight_decay=0.0,
        warmup_fraction=0.067,
        source="ours (no reference recipe): Adam's default rate, warm-up 1 of 15 epochs",
    )
    allowed_backbones = ("conv_small", "conv_base")
    default_backbone = "conv_base"

    def _set_encoder(self, backbone: str, image_size: int) -> tuple[int, ...]:
        """Build ``encoder`` and ``augment``; the channel widths per stage, for the decoder
        (built by the method where its layers come in its order of initialisation)."""
        widths = conv_widths(backbone, image_size)
        self.encoder = ConvEncoder(widths)
        self.augment = ViewAugment(crop_flip_config(image_size))
        return widths
