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
from collections.abc import Iterator
from contextlib import contextmanager

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


EPOCH_SAMPLES = 64  # images drawn for each epoch's picture
EPOCH_RECONSTRUCTIONS = 8  # images reconstructed for each epoch's picture
EPOCH_PICTURE_SIDE = 512  # pixels, the longer side of an epoch's picture


@contextmanager
def _evaluated(method: Method, seed: int) -> Iterator[Method]:
    """``method`` in eval mode without gradients, its random draws following ``seed``;
    its mode and the global random state are restored afterwards."""
    was_training = method.training
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=_devices_of(method)):
            torch.manual_seed(seed)
            yield method.eval()
    finally:
        method.train(was_training)


def _devices_of(method: Method) -> list[int]:
    """The CUDA devices whose random state a draw on ``method`` may use."""
    return sorted({p.device.index or 0 for p in method.parameters() if p.is_cuda})


def samples_png(method: Method, count: int, seed: int, max_side: int) -> bytes:
    """A square-ish grid of ``count`` images the model draws from its prior."""
    if not method.generates:
        raise ValueError(f"{method.name} does not generate images")
    with _evaluated(method, seed) as model:
        images = model.sample(count)  # (N, 3, S, S)
    return grid_png(images, columns=math.ceil(math.sqrt(count)), max_side=max_side)


def reconstructions_png(method: Method, images: Tensor, seed: int, max_side: int) -> bytes:
    """(N, 3, S, S) images -> rows of (what the model was given | what it made of it)
    pairs, up to 8 pairs a row."""
    if not method.reconstructs:
        raise ValueError(f"{method.name} does not reconstruct images")
    device = next(method.parameters()).device
    with _evaluated(method, seed) as model:
        given, made = model.reconstruct(images.to(device))  # (N, 3, S, S) each
    pairs = torch.stack([given, made], dim=1).flatten(0, 1)  # (2N, 3, S, S): given, made, ...
    return grid_png(pairs, columns=2 * min(len(images), 8), max_side=max_side)


def epoch_picture_png(method: Method, images: Tensor) -> bytes:
    """What a job shows of an epoch: 64 samples (a generative method), else the
    reconstructions of the first 8 of ``images`` (N, 3, S, S); the same seed every epoch,
    so successive pictures differ only by what the model learned."""
    if method.generates:
        return samples_png(method, EPOCH_SAMPLES, seed=0, max_side=EPOCH_PICTURE_SIDE)
    chosen = images[:EPOCH_RECONSTRUCTIONS]
    return reconstructions_png(method, chosen, seed=0, max_side=EPOCH_PICTURE_SIDE)
