"""Pictures of what generative and reconstructing models produce, as PNG grids.

A method that ``generates`` draws images from its prior (``Method.sample``); one that
``reconstructs`` shows, for each input, what it was given and what it made of it
(``Method.reconstruct``: MAE's masked input and its prediction, the denoising
autoencoder's noisy input and its reconstruction, the VAE's input and its decoding).
Random choices (latents, masks, noise) follow ``seed``, so the same request draws the
same picture.
"""

from __future__ import annotations

import io
import math

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid

from ssl_engine.methods.base import Method

PADDING = 2  # pixels between tiles


def grid_png(images: Tensor, columns: int, max_side: int) -> bytes:
    """(N, 3, S, S) images in [0, 1] -> a PNG of them in rows of ``columns``, scaled down
    (never up) so that its longer side is at most ``max_side`` pixels."""
    grid = make_grid(images.float().clamp(0, 1), nrow=columns, padding=PADDING, pad_value=1.0)
    longest = max(grid.shape[1:])
    if longest > max_side:
        scale = max_side / longest
        size = (max(1, round(grid.shape[1] * scale)), max(1, round(grid.shape[2] * scale)))
        grid = F.interpolate(grid[None], size=size, mode="area")[0]  # (3, h, w)
    pixels = (grid * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()  # (h, w, 3)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@torch.no_grad()
def samples_png(method: Method, count: int, seed: int, max_side: int) -> bytes:
    """A square-ish grid of ``count`` images the model draws from its prior."""
    if not method.generates:
        raise ValueError(f"{method.name} does not generate images")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        images = method.eval().sample(count)  # (N, 3, S, S)
    return grid_png(images, columns=math.ceil(math.sqrt(count)), max_side=max_side)


@torch.no_grad()
def reconstructions_png(method: Method, images: Tensor, seed: int, max_side: int) -> bytes:
    """(N, 3, S, S) images -> rows of (what the model was given | what it made of it)
    pairs, up to 8 pairs a row."""
    if not method.reconstructs:
        raise ValueError(f"{method.name} does not reconstruct images")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        given, made = method.eval().reconstruct(images)  # (N, 3, S, S) each
    pairs = torch.stack([given, made], dim=1).flatten(0, 1)  # (2N, 3, S, S): given, made, ...
    return grid_png(pairs, columns=2 * min(len(images), 8), max_side=max_side)
