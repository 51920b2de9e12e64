"""The contract every registered method keeps, checked for each entry of ``METHODS``.

A new method gets these tests by being registered: two training steps are finite and
reach the encoder; a short run on toy data lowers the loss; ``embed`` has the advertised
width; compatible pairs get a lower energy than mismatched ones; a checkpoint restores
the method exactly (weights, buffers such as queues and prototypes, momentum encoders).
One trained instance per method is shared by the tests that need training.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from ssl_engine.augment import ViewAugment
from ssl_engine.augment.presets import crop_flip_config
from ssl_engine.checkpoint import load_model_weights
from ssl_engine.factory import build_method
from ssl_engine.methods.base import Batch, Family, Method, ParentRole
from ssl_engine.methods.registry import METHODS
from ssl_engine.recipe import Recipe
from ssl_engine.trainer import REFERENCE_BATCH_SIZE, Progress, TrainConfig, train
from tests.engine.toy_data import InMemoryLoader, toy_images

IMAGE_SIZE = 16
BATCH_SIZE = 16
EPOCHS = 8  # 64 images / 16 = 4 steps per epoch: 32 steps in all
COMPARED_STEPS = 6  # the loss must fall from the first to the last few steps
CPU = torch.device("cpu")

# Only sizes shrink here (queues, heads), to keep the suite fast on a CPU; every
# behavioural hyperparameter keeps its default. MoCo's queue holds one batch, so its
# random initial negatives are gone after the first step.
SMALL_HEAD = {"projection_dim": 128, "projection_hidden_dim": 128}
TEST_OVERRIDES: dict[str, dict[str, Any]] = {
    "moco_v2": {"queue_size": BATCH_SIZE},
    "byol": {**SMALL_HEAD, "predictor_hidden_dim": 128},
    "simsiam": {**SMALL_HEAD, "predictor_hidden_dim": 32},
    "barlow_twins": SMALL_HEAD,
    "vicreg": SMALL_HEAD,
    "deepercluster": {"num_clusters": 8},  # classifiers sized for 8 clusters, not 3,000
    "clusterfit": {"num_clusters": 8},
    "mae": {"decoder_dim": 64, "decoder_depth": 1, "decoder_heads": 2},
}


def smallest_backbone(name: str) -> str:
    allowed = METHODS[name].allowed_backbones
    return "tiny_cnn" if "tiny_cnn" in allowed else allowed[0]  # listed smallest first


def build(name: str) -> Method:
    method = build_method(
        Recipe(name, smallest_backbone(name), IMAGE_SIZE, TEST_OVERRIDES.get(name, {}))
    )
    if method.parent_role is ParentRole.TEACHER:  # ClusterFit: a randomly initialised parent
        method.start_from_parent(build_method(Recipe("simclr", "tiny_cnn", IMAGE_SIZE)))
    return method


@dataclass
class LossRecorder:
    """Trainer hooks that keep the loss of every step."""

    losses: list[float] = field(default_factory=list)

    def on_progress(self, progress: Progress) -> None:
        pass

    def on_metrics(self, step: int, epoch: int, metrics: dict[str, float]) -> None:
        if "loss" in metrics:
            self.losses.append(metrics["loss"])

    def on_checkpoint(self, path: Path, step: int, epoch: int) -> None:
        pass

    def on_event(self, kind: str, message: str) -> None:
        pass

    def should_stop(self) -> bool:
        return False


@dataclass
class Trained:
    name: str
    method: Method
    losses: list[float]
    checkpoint: Path


@pytest.fixture(scope="module")
def toy() -> tuple[Tensor, Tensor]:
    return toy_images(num_images=64, size=IMAGE_SIZE, seed=0)


@pytest.fixture(scope="module", params=sorted(METHODS))
def trained(
    request: pytest.FixtureRequest,
    toy: tuple[Tensor, Tensor],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Trained]:
    name: str = request.param
    torch.manual_seed(0)
    method = build(name)
    images, labels = toy
    recorder = LossRecorder()
    config = TrainConfig(
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        # The learning rate the method would use at batch 256: a few dozen steps at a
        # 16x smaller rate would barely move the weights.
        lr=method.optimizer_defaults.lr * REFERENCE_BATCH_SIZE / BATCH_SIZE,
        precision="fp32",
        log_every_steps=1,
        collapse_every_steps=0,
    )
    result = train(
        method,
        InMemoryLoader(images, BATCH_SIZE, labels=labels),
        config,
        tmp_path_factory.mktemp(f"checkpoints-{name}"),
        hooks=recorder,
        device=CPU,
    )
    assert result.completed
    yield Trained(name, method, recorder.losses, result.checkpoint)


def _encoder_parameters(method: Method, images: Tensor) -> list[torch.nn.Parameter]:
    """The trainable parameters that ``embed`` depends on."""
    params = [p for p in method.parameters() if p.requires_grad]
    grads = torch.autograd.grad(method.embed(images).sum(), params, allow_unused=True)
    return [p for p, g in zip(params, grads, strict=True) if g is not None]


@pytest.mark.parametrize("name", sorted(METHODS))
def test_two_training_steps_are_finite_and_reach_the_encoder(
    name: str, toy: tuple[Tensor, Tensor]
) -> None:
    torch.manual_seed(0)
    method = build(name).train()
    images = toy[0][:BATCH_SIZE]
    encoder = _encoder_parameters(method, images)
    assert encoder, "embed() depends on no trainable parameter"
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.01)
    for step in range(2):
        optimizer.zero_grad(set_to_none=True)
        output = method.training_step(Batch(images=images, indices=torch.arange(BATCH_SIZE)))
        assert output.loss.ndim == 0 and torch.isfinite(output.loss), f"step {step}"
        assert all(isinstance(v, float) for v in output.metrics.values())
        assert any(key.startswith("loss_") for key in output.metrics)
        output.loss.backward()
        grads = [p.grad for p in encoder]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert sum(g.abs().sum().item() for g in grads if g is not None) > 0
        optimizer.step()
        method.on_step_end((step + 1) / 2)


def test_short_training_lowers_the_loss(trained: Trained) -> None:
    losses = trained.losses
    assert len(losses) == EPOCHS * (64 // BATCH_SIZE)
    # Medians, not means: one atypical step (MoCo's first, against a queue of random
    # vectors; a Barlow Twins batch with a poorly estimated correlation) must not decide.
    first = statistics.median(losses[:COMPARED_STEPS])
    last = statistics.median(losses[-COMPARED_STEPS:])
    assert last < first, f"{trained.name}: loss went from {first:.4f} to {last:.4f}"


def test_embed_returns_one_row_of_embed_dim_per_image(
    trained: Trained, toy: tuple[Tensor, Tensor]
) -> None:
    method = trained.method.eval()
    with torch.no_grad():
        z = method.embed(toy[0][:5])
    assert z.shape == (5, method.embed_dim)
    assert torch.isfinite(z).all()


def test_energy_is_lower_for_compatible_pairs_than_for_mismatched_ones(
    trained: Trained, toy: tuple[Tensor, Tensor]
) -> None:
    method = trained.method.eval()
    images, labels = toy
    # Rolling by one pairs each image with one of another class (labels are i % 4).
    assert (labels.roll(1) != labels).all()
    torch.manual_seed(1)
    if method.family is Family.JOINT_EMBEDDING:
        augment = ViewAugment(crop_flip_config(IMAGE_SIZE))
        x, y = augment(images), augment(images)  # two views of each image
    else:
        x, y = images, images  # predictive methods corrupt x themselves
    with torch.no_grad():
        positive = method.energy(x, y)
        mismatched = method.energy(x, y.roll(1, dims=0))
    assert positive.shape == (len(images),)
    assert torch.isfinite(positive).all() and torch.isfinite(mismatched).all()
    assert positive.mean() < mismatched.mean(), (
        f"{trained.name}: positive {positive.mean():.4f} vs mismatched {mismatched.mean():.4f}"
    )


def test_checkpoint_restores_every_tensor_and_the_embeddings(
    trained: Trained, toy: tuple[Tensor, Tensor]
) -> None:
    torch.manual_seed(123)  # a different initialisation than the trained instance's
    restored = build(trained.name)
    load_model_weights(trained.checkpoint, restored)
    expected = trained.method.state_dict()
    actual = restored.state_dict()
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(actual[key], value), key
    trained.method.eval()
    restored.eval()
    with torch.no_grad():
        torch.testing.assert_close(restored.embed(toy[0]), trained.method.embed(toy[0]))
