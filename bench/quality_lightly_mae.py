"""lightly's MAE around our ViT encoder; runs inside ``bench/.venv-peer``.

lightly's CIFAR-10 benchmark has no MAE; its Imagenette benchmark does (a timm ViT with
``MaskedVisionTransformerTIMM`` and ``MaskedVisionTransformerDecoderTIMM``). timm is not
in ``bench/.venv-peer`` (``bench/setup_peer_env.sh`` installs torch, torchvision and
lightly only), so the decoder here is lightly's torchvision one,
``lightly.models.modules.MAEDecoder``, at the Imagenette benchmark's size: width 512,
1 block, 16 heads, MLP ratio 4. The rest is lightly's too: ``random_token_mask`` (mask
ratio 0.75, the class token always kept), ``patchify``, ``get_at_index`` /
``set_at_index`` / ``repeat_token`` and an MSE on the masked patches' pixels after
ImageNet normalisation (lightly's ``MAETransform`` normalises; ours leaves that to the
encoder, so the target is normalised here). The encoder is ours
(``ssl_engine.vit.build_vit_encoder``, the same weights as our MAE run under the same
seed): it already encodes a subset of patches, given their indices, behind its class
token, which is what lightly's ``MaskedVisionTransformer.encode(images, idx_keep)``
does. ``embed`` is our MAE's (mean of the patch tokens of the whole image), so the kNN
scores the encoder the same way on both sides.
"""

from __future__ import annotations

import torch
from lightly.models.modules import MAEDecoder
from lightly.models.utils import (
    get_at_index,
    patchify,
    random_token_mask,
    repeat_token,
    set_at_index,
)
from quality_lightly_models import LightlyModel
from torch import Tensor, nn

from ssl_engine.vit import ViTEncoder

MASK_RATIO = 0.75
DECODER_DIM = 512


class MAE(LightlyModel):
    backbone: ViTEncoder

    def __init__(self, encoder: ViTEncoder) -> None:
        super().__init__(encoder)
        self.patch_size = encoder.patch_size
        self.sequence_length = encoder.num_patches + 1  # the class token first
        self.mask_token = nn.Parameter(torch.zeros(1, 1, DECODER_DIM))
        self.decoder = MAEDecoder(
            seq_length=self.sequence_length,
            num_layers=1,
            num_heads=16,
            embed_input_dim=encoder.out_dim,
            hidden_dim=DECODER_DIM,
            mlp_dim=4 * DECODER_DIM,
            out_dim=3 * self.patch_size**2,
            dropout=0.0,
            attention_dropout=0.0,
        )
        self.criterion = nn.MSELoss()

    def loss(self, views: list[Tensor]) -> Tensor:
        (images,) = views  # MAETransform makes one view
        batch = images.shape[0]
        idx_keep, idx_mask = random_token_mask(
            size=(batch, self.sequence_length), mask_ratio=MASK_RATIO, device=images.device
        )  # (B, 1 + N_keep) with the class token (index 0) first, (B, N_mask)
        encoded = self.backbone(images, idx_keep[:, 1:] - 1)  # (B, 1 + N_keep, D)
        decoder_input = self.decoder.embed(encoded)  # (B, 1 + N_keep, 512)
        tokens = repeat_token(self.mask_token, (batch, self.sequence_length))  # (B, 1 + N, 512)
        tokens = set_at_index(tokens, idx_keep, decoder_input.type_as(tokens))
        decoded = self.decoder.decode(tokens)  # (B, 1 + N, 512)
        predicted = self.decoder.predict(get_at_index(decoded, idx_mask))  # (B, N_mask, p*p*3)
        patches = patchify(self.backbone.normalize(images), self.patch_size)  # (B, N, p*p*3)
        target = get_at_index(patches, idx_mask - 1)  # no class token among the patches
        return self.criterion(predicted, target)

    def embed(self, x: Tensor) -> Tensor:
        return self.backbone(x)[:, 1:].mean(dim=1)  # (B, D), as ssl_engine.methods.mae
