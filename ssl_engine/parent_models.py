"""Models built on models: a run that starts from a trained model.

A job may name a parent model. For most methods (``ParentRole.WARM_START``) the method is
built fresh and only its encoder (the module ``embed`` runs: a backbone, a ViT or a conv
encoder) takes the parent's weights; heads, predictors, prototypes and queues start as
they would from scratch, since they belong to the parent's objective, not to its
representation. A ``TEACHER`` method (ClusterFit) trains from scratch and uses the
parent only to label the data. Either way the child's weights are complete on their own:
nothing of the parent is needed to resume or serve it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from ssl_engine.checkpoint import load_model_weights
from ssl_engine.factory import build_method
from ssl_engine.methods.base import Method, ParentRole
from ssl_engine.methods.registry import METHODS
from ssl_engine.recipe import Recipe
from ssl_engine.vit import VIT_SIZES


def encoder_shapes(recipe: Recipe) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor of the encoder ``recipe`` builds; no memory is
    allocated (the method is built on the meta device)."""
    with torch.device("meta"):
        method = build_method(replace(recipe, parent_model_id=None))
    return {name: tuple(t.shape) for name, t in method.encoder_module().state_dict().items()}


def encoder_mismatch(parent: Recipe, child: Recipe) -> str | None:
    """Why the encoder of ``parent`` cannot start ``child``, or None when it can: the same
    backbone, with tensors of the same names and shapes (a ResNet's stem depends on the
    image size), and for a ViT the same image size."""
    if parent.backbone != child.backbone:
        return f"the parent model's backbone is {parent.backbone}, this job's {child.backbone}"
    if parent.backbone in VIT_SIZES and parent.input_size != child.input_size:
        # Same shapes, but patch size and position grid follow the image size.
        return (
            f"the parent model's ViT was trained on {parent.input_size}px images and this "
            f"job's is {child.input_size}px; a ViT's patches and positions depend on it"
        )
    parent_shapes, child_shapes = encoder_shapes(parent), encoder_shapes(child)
    if parent_shapes == child_shapes:
        return None
    differing = sorted(
        name
        for name in parent_shapes.keys() | child_shapes.keys()
        if parent_shapes.get(name) != child_shapes.get(name)
    )
    return (
        f"the parent model's {parent.backbone} was built for {parent.input_size}px images "
        f"and this job's for {child.input_size}px; their encoders differ in {differing[0]}"
    )


def parent_mismatch(parent: Recipe, child: Recipe) -> str | None:
    """Why the model ``parent`` cannot be ``child``'s parent, or None when it can: a
    teacher may be any trained model; a warm start needs a matching encoder."""
    if METHODS[child.method].parent_role is ParentRole.TEACHER:
        return None
    return encoder_mismatch(parent, child)


def needs_parent(child: Recipe) -> bool:
    """Whether ``child``'s method cannot train without a parent model."""
    return METHODS[child.method].parent_role is ParentRole.TEACHER


def start_from_parent(child: Method, parent: Recipe, weights: Path) -> None:
    """Rebuild the model stored at ``weights`` (trained with ``parent``) and hand it to
    ``child`` (``Method.start_from_parent``: a warm start of its encoder, or a teacher).
    The caller checked ``parent_mismatch``; a warm start loads strictly regardless."""
    trained = build_method(replace(parent, parent_model_id=None))
    load_model_weights(weights, trained)
    child.start_from_parent(trained.eval())
