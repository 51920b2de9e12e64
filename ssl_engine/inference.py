"""Load a trained method for serving and embed images with it, on the same fast path as
training.

Serving makes the per-device choices a training run makes (``ssl_engine.acceleration``):
the weights are stored channels_last once, at load (on CPU and CUDA), and the forward pass
runs under autocast at the serving precision, with the weights autocast would cast on
every call (convolutions and linear layers) cast once instead (``cast_for_autocast``).
The precision (``acceleration.serving_precision``): ``auto`` is bf16 where the device has
bf16 kernels (CUDA GPUs that report it, CPUs with AVX512-BF16 or AMX), fp16 on other CUDA
GPUs, float32 elsewhere; ``fp32`` gives float32-exact vectors on any device. Whatever the
precision, vectors come back float32.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_engine.acceleration import AUTOCAST_DTYPES, autocast_to, use_channels_last
from ssl_engine.checkpoint import load_model_weights
from ssl_engine.factory import build_method
from ssl_engine.methods.base import Method
from ssl_engine.precision import Precision
from ssl_engine.recipe import Recipe


def load_for_inference(
    weights: Path, recipe: Recipe, device: torch.device, channels_last: bool = True
) -> Method:
    """Rebuild the method of ``recipe``, load ``weights`` strictly, in eval mode, with its
    weights stored channels_last where the device is faster so (unless asked not to)."""
    model = build_method(recipe)
    load_model_weights(weights, model)
    model = model.to(device).eval()
    if use_channels_last(channels_last, device):
        model.to(memory_format=torch.channels_last)  # 4-D weights only; the rest is as is
    return model


def cast_for_autocast(model: Method, precision: Precision) -> Method:
    """A copy of ``model`` whose convolution and linear layers hold ``precision`` weights
    (``model`` itself for fp32). Autocast casts exactly these to that precision on every
    call; cast once, the outputs are bit-identical and a batch of one runs about 20 %
    faster (bench/RESULTS.md, "Serving fast path")."""
    if precision == "fp32":
        return model
    cast = copy.deepcopy(model)
    dtype = AUTOCAST_DTYPES[precision]
    for module in cast.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            module.to(dtype)
    return cast


def embed_images(
    model: Method, images: Tensor, normalize: bool, precision: Precision = "fp32"
) -> Tensor:
    """(B, 3, S, S) images in [0, 1] -> (B, D) float32 embeddings computed at ``precision``,
    L2-normalised if asked."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
    device = next(model.parameters()).device
    with torch.inference_mode(), autocast_to(device, precision):
        x = images.to(device, torch.float32, memory_format=torch.channels_last)  # (B, 3, S, S)
        z = model.embed(x).float()  # (B, D)
        return F.normalize(z, dim=1) if normalize else z


def energies(model: Method, x: Tensor, y: Tensor, precision: Precision = "fp32") -> Tensor:
    """(N, 3, S, S) x and y in [0, 1] -> (N,) float32 energies E(x, y) at ``precision``."""
    device = next(model.parameters()).device
    with torch.inference_mode(), autocast_to(device, precision):
        x = x.to(device, torch.float32, memory_format=torch.channels_last)
        y = y.to(device, torch.float32, memory_format=torch.channels_last)
        return model.energy(x, y).float()  # (N,)
