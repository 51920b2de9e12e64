"""MAE: hide most patches of an image and reconstruct them from the rest.

He, Chen, Xie, Li, Dollár and Girshick, "Masked Autoencoders Are Scalable Vision
Learners", CVPR 2022 (arXiv:2111.06377).

Energy view: a predictive method. E(x, y) is the error of reconstructing y's hidden
patches from x's visible ones; an architectural asymmetry prevents collapse: the
encoder sees only the visible quarter of the patches, so it cannot copy its input, and a
light decoder has to fill in the rest from what the encoder kept.

    view -> patches (B, N) -> random_masking -> keep (B, N_keep), mask (B, N)
    encoder(visible patches + cls) -> tokens (B, 1 + N_keep, D)
    decoder(tokens, mask tokens at hidden positions) -> pixels (B, N, p*p*3)
    loss = MSE on hidden patches only (against per-patch normalised pixels by default)

Users get the mean of the encoder's patch tokens over the whole, unmasked image.
"""

from __future__ import annotations

import torch
from pydantic import Field, model_validator
from torch import Tensor

from ssl_engine.augment import ViewAugment
from ssl_engine.augment.presets import crop_flip_config
from ssl_engine.losses.reconstruction import masked_patch_mse
from ssl_engine.methods.base import (
    Batch,
    CollapsePrevention,
    Family,
    Hyperparameters,
    Method,
    OptimizerDefaults,
    StepOutput,
)
from ssl_engine.vit import MAEDecoder, build_vit_encoder, patchify, unpatchify

ENERGY_MASK_SEED = 0  # energy uses one fixed mask so equal inputs give equal energies


def random_masking(
    batch_size: int,
    num_patches: int,
    mask_ratio: float,
    *,
    device: torch.device,
    generator: torch.Generator | None = None,
    shared: bool = False,
) -> tuple[Tensor, Tensor]:
    """Choose which patches each sample keeps, uniformly at random (MAE, section 3).

    Keeps ``num_patches * (1 - mask_ratio)`` patches, at least one and at most all but
    one, so there is always something to see and something to predict. ``shared`` draws
    one mask for the whole batch. Noise is drawn on the CPU when a (CPU) generator is
    given. Returns keep (B, N_keep) patch indices and mask (B, N) bool, true if hidden.
    """
    num_keep = min(max(int(num_patches * (1 - mask_ratio)), 1), num_patches - 1)
    rows = 1 if shared else batch_size
    noise_device = torch.device("cpu") if generator is not None else device
    noise = torch.rand(rows, num_patches, generator=generator, device=noise_device)  # (B|1, N)
    keep = noise.argsort(dim=1)[:, :num_keep].to(device).expand(batch_size, -1)  # (B, N_keep)
    mask = torch.ones(batch_size, num_patches, dtype=torch.bool, device=device)  # (B, N)
    return keep, mask.scatter(1, keep, False)


class MAEHyperparameters(Hyperparameters):
    """MAE's knobs; paper defaults, with a decoder sized like common CIFAR recipes."""

    mask_ratio: float = Field(
        0.75, gt=0, lt=1, description="Fraction of patches hidden from the encoder (paper: 0.75)."
    )
    decoder_dim: int = Field(
        192,
        ge=16,
        le=2048,
        description=(
            "Decoder width. The paper's 512 is for 224 px ImageNet; CIFAR recipes use a "
            "decoder as wide as ViT-Tiny (192)."
        ),
    )
    decoder_depth: int = Field(
        4,
        ge=1,
        le=24,
        description="Decoder blocks (paper: 8; CIFAR recipes: 4; the paper shows 1 still works).",
    )
    decoder_heads: int = Field(
        3, ge=1, le=32, description="Attention heads of the decoder; must divide decoder_dim."
    )
    normalize_target: bool = Field(
        True,
        description="Reconstruct per-patch normalised pixels (the paper's better variant).",
    )

    @model_validator(mode="after")
    def _decoder_shape(self) -> MAEHyperparameters:
        if self.decoder_dim % self.decoder_heads or self.decoder_dim % 4:
            raise ValueError(
                f"decoder_dim ({self.decoder_dim}) must be divisible by decoder_heads "
                f"({self.decoder_heads}) and by 4 (sin-cos positions)"
            )
        return self


class MAE(Method):
    """ViT encoder on visible patches + light transformer decoder predicting hidden pixels."""

    reconstructs = True

    name = "mae"
    family = Family.PREDICTIVE
    collapse_prevention = CollapsePrevention.ARCHITECTURAL
    summary = (
        "Masks 75% of an image's patches, encodes the visible ones with a ViT and "
        "reconstructs the hidden pixels with a light decoder."
    )
    paper = (
        "He, Chen, Xie, Li, Dollár, Girshick. Masked Autoencoders Are Scalable Vision "
        "Learners. CVPR 2022. arXiv:2111.06377"
    )
    hyperparameters_model = MAEHyperparameters
    # solo-learn's CIFAR recipe, the paper's AdamW at CIFAR scale: lr 2e-4 per 256 images
    # (paper: 1.5e-4 on ImageNet), betas (0.9, 0.95), weight decay 0.05, warm-up 5% of
    # the run (the paper's 40 of 800 epochs; solo-learn: 10 of 1,000).
    optimizer_defaults = OptimizerDefaults(
        name="adamw",
        lr=2e-4,
        weight_decay=0.05,
        betas=(0.9, 0.95),
        warmup_fraction=0.05,
        source="solo-learn scripts/pretrain/cifar/mae.yaml: AdamW lr 2e-4 per 256, betas "
        "(0.9, 0.95), wd 0.05; warm-up: the MAE paper's 40 of 800 epochs",
    )
    allowed_backbones = ("vit_micro", "vit_tiny", "vit_small")
    default_backbone = "vit_tiny"

    def __init__(self, *, backbone: str, image_size: int, hparams: MAEHyperparameters) -> None:
        super().__init__()
        self.hparams = hparams
        self.encoder = build_vit_encoder(backbone, image_size)
        self.embed_dim = self.encoder.out_dim
        self.decoder = MAEDecoder(
            num_patches=self.encoder.num_patches,
            encoder_dim=self.encoder.out_dim,
            dim=hparams.decoder_dim,
            depth=hparams.decoder_depth,
            heads=hparams.decoder_heads,
            patch_dim=3 * self.encoder.patch_size**2,
        )
        self.augment = ViewAugment(crop_flip_config(image_size))

    def _reconstruct(self, x: Tensor, keep: Tensor) -> tuple[Tensor, Tensor]:
        """Encode x's kept patches, predict every patch -> tokens, pixel predictions."""
        tokens = self.encoder(x, keep)  # (B, 1 + N_keep, D)
        return tokens, self.decoder(tokens, keep)  # ..., (B, N, p*p*3)

    def _error(self, prediction: Tensor, y: Tensor, mask: Tensor) -> Tensor:
        """(B, N, p*p*3) predictions scored against y's hidden patches -> (B,)."""
        target = patchify(y, self.encoder.patch_size)  # (B, N, p*p*3)
        return masked_patch_mse(
            prediction, target, mask, normalize_target=self.hparams.normalize_target
        )  # (B,)

    def training_step(self, batch: Batch) -> StepOutput:
        views = self.augment(batch.images)  # (B, 3, S, S)
        keep, mask = random_masking(
            len(views), self.encoder.num_patches, self.hparams.mask_ratio, device=views.device
        )  # (B, N_keep), (B, N)
        tokens, prediction = self._reconstruct(views, keep)
        loss = self._error(prediction, views, mask).mean()
        return StepOutput(
            loss=loss,
            metrics={"loss_reconstruction": loss.item()},
            embeddings=tokens[:, 1:].mean(dim=1).detach(),  # (B, D) over visible patches
        )

    def embed(self, x: Tensor) -> Tensor:
        return self.encoder(x)[:, 1:].mean(dim=1)  # (B, D): average of all patch tokens

    def reconstruct(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The image with its hidden patches grey, and with them predicted (the visible
        ones as they were). Predictions of normalised patches are put back on each
        patch's own mean and spread, as MAE's figures show them."""
        patch = self.encoder.patch_size
        keep, mask = random_masking(
            len(x), self.encoder.num_patches, self.hparams.mask_ratio, device=x.device
        )  # (B, N_keep), (B, N)
        prediction = self._reconstruct(x, keep)[1].float()  # (B, N, p*p*3)
        target = patchify(x, patch).float()  # (B, N, p*p*3)
        if self.hparams.normalize_target:
            mean = target.mean(dim=-1, keepdim=True)  # (B, N, 1)
            spread = torch.sqrt(target.var(dim=-1, unbiased=False, keepdim=True) + 1e-6)
            prediction = prediction * spread + mean  # (B, N, p*p*3)
        hidden = mask.unsqueeze(-1)  # (B, N, 1)
        shown = torch.where(hidden, torch.full_like(target, 0.5), target)
        made = torch.where(hidden, prediction.clamp(0, 1), target)
        return unpatchify(shown, patch), unpatchify(made, patch)  # (B, 3, S, S) each

    def energy(self, x: Tensor, y: Tensor) -> Tensor:
        """Error of predicting y's hidden patches from x's visible ones, under a fixed mask."""
        keep, mask = random_masking(
            len(x),
            self.encoder.num_patches,
            self.hparams.mask_ratio,
            device=x.device,
            generator=torch.Generator().manual_seed(ENERGY_MASK_SEED),
            shared=True,
        )  # (B, N_keep), (B, N)
        _, prediction = self._reconstruct(x, keep)
        return self._error(prediction, y, mask)  # (B,)
