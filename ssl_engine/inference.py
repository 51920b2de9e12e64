"""Load a trained method for serving and embed images with it."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_engine.checkpoint import load_model_weights
from ssl_engine.factory import build_method
from ssl_engine.methods.base import Method
from ssl_engine.recipe import Recipe


def load_for_inference(weights: Path, recipe: Recipe, device: torch.device) -> Method:
    """Rebuild the method of ``recipe``, load ``weights`` strictly, in eval mode."""
    model = build_method(recipe)
    load_model_weights(weights, model)
    return model.to(device).eval()


def embed_images(model: Method, images: Tensor, normalize: bool) -> Tensor:
    """(B, 3, S, S) images in [0, 1] -> (B, D) float32 embeddings, L2-normalised if asked."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
    device = next(model.parameters()).device
    with torch.inference_mode():
        z = model.embed(images.to(device, torch.float32)).float()  # (B, D)
        return F.normalize(z, dim=1) if normalize else z
