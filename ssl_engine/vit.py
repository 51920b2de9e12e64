"""A Vision Transformer encoder and the light decoder MAE pairs it with.

Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image Recognition at
Scale", ICLR 2021: cut the image into patches, embed each linearly, add positions, run
pre-norm transformer blocks. Sizes follow DeiT (Touvron et al., 2021): tiny is 192 wide
with 3 heads, small 384 wide with 6, both 12 blocks deep. Positions are fixed 2-D
sine-cosine embeddings, as in MAE (He et al., 2022), so nothing about position has to be
learned and the encoder can take any subset of patches. Small images get small patches:
a 32 px CIFAR image cut into 4 px patches gives an 8 x 8 grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ssl_engine.backbones import Normalize
from ssl_engine.methods.base import IMAGENET_MEAN, IMAGENET_STD


@dataclass(frozen=True)
class ViTSize:
    dim: int
    depth: int
    heads: int


VIT_SIZES: dict[str, ViTSize] = {
    # Not a paper size: two narrow blocks, for tests and quick CPU experiments.
    "vit_micro": ViTSize(dim=64, depth=2, heads=2),
    "vit_tiny": ViTSize(dim=192, depth=12, heads=3),
    "vit_small": ViTSize(dim=384, depth=12, heads=6),
}


def patch_size_for(image_size: int) -> int:
    """4 px patches up to 64 px images, 8 px up to 128 px, else ViT's usual 16 px."""
    if image_size <= 64:
        return 4
    return 8 if image_size <= 128 else 16


def patchify(images: Tensor, patch_size: int) -> Tensor:
    """(B, C, H, W) -> (B, N, patch_size * patch_size * C), patches in row-major order."""
    b, c, h, w = images.shape
    if h % patch_size or w % patch_size:
        raise ValueError(f"image size {h}x{w} is not divisible by patch size {patch_size}")
    grid_h, grid_w = h // patch_size, w // patch_size
    patches = images.reshape(b, c, grid_h, patch_size, grid_w, patch_size)
    patches = patches.permute(0, 2, 4, 3, 5, 1)  # (B, gh, gw, p, p, C)
    return patches.reshape(b, grid_h * grid_w, patch_size * patch_size * c)  # (B, N, p*p*C)


def unpatchify(patches: Tensor, patch_size: int) -> Tensor:
    """(B, N, p*p*C) patches in row-major order of a square grid -> (B, C, H, W)."""
    b, n, values = patches.shape
    grid = math.isqrt(n)
    channels = values // (patch_size * patch_size)
    if grid * grid != n or channels * patch_size * patch_size != values:
        raise ValueError(f"{n} patches of {values} values are not a square grid of {patch_size}px")
    image = patches.reshape(b, grid, grid, patch_size, patch_size, channels)
    image = image.permute(0, 5, 1, 3, 2, 4)  # (B, C, gh, p, gw, p)
    return image.reshape(b, channels, grid * patch_size, grid * patch_size)


def sincos_position_embedding(grid_size: int, dim: int) -> Tensor:
    """(grid_size ** 2, dim) fixed embedding: half the channels encode the row, half the column.

    Each half holds sines and cosines of the coordinate at geometrically spaced
    frequencies 1 / 10000^(i / (dim / 4)), as in the Transformer's 1-D encoding.
    """
    if dim % 4:
        raise ValueError(f"dim must be divisible by 4 for a 2-D sin-cos embedding, got {dim}")
    frequencies = 1.0 / 10000 ** (torch.arange(dim // 4) / (dim // 4))  # (dim/4,)
    coords = torch.arange(grid_size, dtype=torch.float32)
    rows, cols = torch.meshgrid(coords, coords, indexing="ij")  # (G, G) each

    def encode(positions: Tensor) -> Tensor:
        angles = positions.reshape(-1, 1) * frequencies  # (N, dim/4)
        return torch.cat([angles.sin(), angles.cos()], dim=1)  # (N, dim/2)

    return torch.cat([encode(rows), encode(cols)], dim=1)  # (N, dim)


def transformer_blocks(dim: int, depth: int, heads: int, mlp_ratio: float = 4.0) -> nn.Sequential:
    """``depth`` pre-norm blocks (LayerNorm -> attention, LayerNorm -> GELU MLP), no dropout."""
    return nn.Sequential(
        *(
            nn.TransformerEncoderLayer(
                d_model=dim,
                nhead=heads,
                dim_feedforward=int(dim * mlp_ratio),
                dropout=0.0,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            for _ in range(depth)
        )
    )


def _init_like_mae(module: nn.Module) -> None:
    """Xavier-uniform linear weights and zero biases, as MAE's reference training uses."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class ViTEncoder(nn.Module):
    """normalise -> patch embedding + positions -> [keep a subset] -> cls + blocks -> norm."""

    pos_embed: Tensor

    def __init__(self, *, image_size: int, patch_size: int, size: ViTSize) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not divisible by patch {patch_size}")
        grid_size = image_size // patch_size
        self.patch_size = patch_size
        self.num_patches = grid_size**2
        self.out_dim = size.dim
        self.normalize = Normalize(IMAGENET_MEAN, IMAGENET_STD)
        self.patch_embed = nn.Conv2d(3, size.dim, kernel_size=patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, size.dim))
        pos = sincos_position_embedding(grid_size, size.dim).unsqueeze(0)  # (1, N, D)
        self.register_buffer("pos_embed", pos, persistent=False)
        self.blocks = transformer_blocks(size.dim, size.depth, size.heads)
        self.norm = nn.LayerNorm(size.dim)
        self.apply(_init_like_mae)
        nn.init.xavier_uniform_(self.patch_embed.weight.view(size.dim, -1))  # as a linear map
        nn.init.normal_(self.cls_token, std=0.02)

    def forward(self, images: Tensor, keep: Tensor | None = None) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, 1 + N_keep, D) tokens, the class token first.

        keep: (B, N_keep) indices of the patches to encode; None encodes all N patches.
        """
        tokens = self.patch_embed(self.normalize(images)).flatten(2).transpose(1, 2)  # (B, N, D)
        tokens = tokens + self.pos_embed  # (B, N, D)
        if keep is not None:
            index = keep.unsqueeze(-1).expand(-1, -1, tokens.shape[-1])  # (B, N_keep, D)
            tokens = tokens.gather(1, index)  # (B, N_keep, D)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)  # (B, 1, D)
        return self.norm(self.blocks(torch.cat([cls, tokens], dim=1)))  # (B, 1 + N_keep, D)


class MAEDecoder(nn.Module):
    """Encoded visible tokens -> every patch's pixels, with a shared mask token for the rest.

    MAE's decoder (He et al., 2022, section 3): a narrower transformer that sees the
    encoded visible patches at their positions and a learned mask token at every hidden
    position, and predicts each patch's pixel values with a linear layer.
    """

    pos_embed: Tensor

    def __init__(
        self,
        *,
        num_patches: int,
        encoder_dim: int,
        dim: int,
        depth: int,
        heads: int,
        patch_dim: int,
    ) -> None:
        super().__init__()
        grid_size = int(num_patches**0.5)
        if grid_size**2 != num_patches:
            raise ValueError(f"num_patches must be a square grid, got {num_patches}")
        self.num_patches = num_patches
        self.embed = nn.Linear(encoder_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        pos = sincos_position_embedding(grid_size, dim).unsqueeze(0)  # (1, N, d)
        self.register_buffer("pos_embed", pos, persistent=False)
        self.blocks = transformer_blocks(dim, depth, heads)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, patch_dim)
        self.apply(_init_like_mae)
        nn.init.normal_(self.mask_token, std=0.02)

    def forward(self, tokens: Tensor, keep: Tensor) -> Tensor:
        """tokens: (B, 1 + N_keep, E) encoder output; keep: (B, N_keep) -> (B, N, patch_dim)."""
        x = self.embed(tokens)  # (B, 1 + N_keep, d)
        cls, visible = x[:, :1], x[:, 1:]  # (B, 1, d), (B, N_keep, d)
        batch, _, dim = visible.shape
        canvas = self.mask_token.to(visible.dtype).expand(batch, self.num_patches, dim)
        index = keep.unsqueeze(-1).expand(-1, -1, dim)  # (B, N_keep, d)
        patches = canvas.scatter(1, index, visible) + self.pos_embed  # (B, N, d)
        x = self.norm(self.blocks(torch.cat([cls, patches], dim=1)))  # (B, 1 + N, d)
        return self.head(x[:, 1:])  # (B, N, patch_dim)


def build_vit_encoder(name: str, image_size: int) -> ViTEncoder:
    """A randomly initialised ViT by name (``vit_micro``, ``vit_tiny`` or ``vit_small``)."""
    if name not in VIT_SIZES:
        raise ValueError(f"unknown ViT {name!r}; known: {list(VIT_SIZES)}")
    return ViTEncoder(
        image_size=image_size, patch_size=patch_size_for(image_size), size=VIT_SIZES[name]
    )
