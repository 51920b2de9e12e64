"""The training loop: learning, stopping, exact resume, the non-finite guard, collapse."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from ssl_engine.checkpoint import load_latest
from ssl_engine.data.loader import BatchLoader
from ssl_engine.methods.base import Batch, EpochContext, Method, OptimizerDefaults, StepOutput
from ssl_engine.methods.simclr import SimCLR, SimCLRHyperparameters
from ssl_engine.trainer import NonFiniteLossError, Progress, TrainConfig, job_recipe, train
from tests.engine.toy_data import InMemoryLoader

CPU = torch.device("cpu")
COLOURS = torch.tensor([[0.9, 0.1, 0.1], [0.1, 0.8, 0.2], [0.2, 0.3, 0.9], [0.9, 0.8, 0.1]])


def coloured_shapes(n: int, size: int = 16, seed: int = 0) -> Tensor:
    """(n, 3, size, size) in [0, 1]: class i % 4 is a square, disc, diamond or cross."""
    gen = torch.Generator().manual_seed(seed)
    images = 0.15 * torch.rand(n, 3, size, size, generator=gen)
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    for i in range(n):
        cy, cx = torch.randint(4, size - 4, (2,), generator=gen).tolist()
        dy, dx = (ys - cy).abs(), (xs - cx).abs()
        masks = [
            (dy <= 3) & (dx <= 3),
            dy**2 + dx**2 <= 12,
            dy + dx <= 4,
            ((dy <= 1) | (dx <= 1)) & (dy <= 4) & (dx <= 4),
        ]
        images[i][:, masks[i % 4]] = COLOURS[i % 4, :, None]
    return images


@dataclass
class RecordingHooks:
    """Records every callback; asks to stop once ``stop_after`` steps are done."""

    stop_after: int | None = None
    metrics: list[tuple[int, int, dict[str, float]]] = field(default_factory=list)
    progress: list[Progress] = field(default_factory=list)
    checkpoints: list[int] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)

    def on_progress(self, progress: Progress) -> None:
        self.progress.append(progress)

    def on_metrics(self, step: int, epoch: int, metrics: dict[str, float]) -> None:
        self.metrics.append((step, epoch, metrics))

    def on_checkpoint(self, path: Path, step: int, epoch: int) -> None:
        self.checkpoints.append(step)

    def on_event(self, kind: str, message: str) -> None:
        self.events.append((kind, message))

    def should_stop(self) -> bool:
        done = self.progress[-1].step if self.progress else 0
        return self.stop_after is not None and done >= self.stop_after


class StubMethod(Method):
    """A linear map of mean colours; its loss can be made NaN, its embeddings constant."""

    def __init__(self, *, nan_loss: bool = False, constant_embeddings: bool = False) -> None:
        super().__init__()
        self.net = nn.Linear(3, 4)
        self.nan_loss = nan_loss
        self.constant_embeddings = constant_embeddings
        self.epochs_started: list[int] = []

    def training_step(self, batch: Batch) -> StepOutput:
        z = self.net(batch.images.mean(dim=(2, 3)))  # (B, 4)
        loss = (z - 1).square().mean() * (float("nan") if self.nan_loss else 1.0)
        embeddings = torch.ones_like(z) if self.constant_embeddings else z
        return StepOutput(loss=loss, metrics={"loss_stub": loss.item()}, embeddings=embeddings)

    def on_epoch_start(self, context: EpochContext) -> None:
        self.epochs_started.append(context.epoch)


def tiny_simclr(temperature: float = 0.5) -> SimCLR:
    torch.manual_seed(0)
    hparams = SimCLRHyperparameters(projection_dim=32, temperature=temperature)
    return SimCLR(backbone="tiny_cnn", image_size=16, hparams=hparams)


def config(**overrides: object) -> TrainConfig:
    base: dict[str, object] = {
        "epochs": 2,
        "batch_size": 8,
        "lr": 1.0,
        "log_every_steps": 1,
        "collapse_every_steps": 0,
        "precision": "fp32",
    }
    return TrainConfig(**(base | overrides))  # type: ignore[arg-type]


def test_simclr_loss_goes_down_on_coloured_shapes(tmp_path: Path) -> None:
    # 30 steps of batch 32 with AdamW: enough to beat the noise of random crops; NT-Xent
    # starts near log(2B - 1) = 4.1 and drops by ~0.5 on these images.
    images = (coloured_shapes(64) * 255).round().to(torch.uint8)
    loader = BatchLoader(images, None, batch_size=32, device=CPU, seed=0)
    hooks = RecordingHooks()
    run = config(epochs=15, batch_size=32, optimizer="adamw", lr=0.02, weight_decay=0.0)
    result = train(tiny_simclr(temperature=0.2), loader, run, tmp_path, hooks, CPU)
    losses = [m["loss"] for _, _, m in hooks.metrics]
    assert result.completed and result.steps == 30 and len(losses) == 30
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.2
    assert {"loss", "loss_nt_xent", "lr"} <= set(result.last_metrics)


def test_progress_counts_optimizer_steps_from_one(tmp_path: Path) -> None:
    hooks = RecordingHooks()
    train(StubMethod(), InMemoryLoader(torch.rand(16, 3, 8, 8), 4), config(), tmp_path, hooks, CPU)
    assert [p.step for p in hooks.progress] == list(range(1, 9))
    assert [p.epoch for p in hooks.progress] == [0] * 4 + [1] * 4
    last = hooks.progress[-1]
    assert last.total_steps == 8 and last.eta_seconds == 0 and last.images_per_sec > 0
    assert all(0 <= p.data_wait_fraction <= 1 for p in hooks.progress)


def test_stop_request_writes_a_checkpoint_and_returns_incomplete(tmp_path: Path) -> None:
    hooks = RecordingHooks(stop_after=3)
    loader = InMemoryLoader(torch.rand(16, 3, 8, 8), batch_size=4)
    result = train(StubMethod(), loader, config(), tmp_path, hooks, CPU)
    assert not result.completed and result.steps == 3 and result.epochs_done == 0
    state = load_latest(tmp_path)
    assert state is not None and state.path == result.checkpoint
    assert (state.step, state.epoch, state.step_in_epoch) == (3, 0, 3)


@pytest.mark.parametrize("stop_after", [3, 4, 6])  # mid-epoch, at an epoch end, mid-epoch 2
def test_stopped_and_resumed_run_matches_an_uninterrupted_one(
    tmp_path: Path, stop_after: int
) -> None:
    images = coloured_shapes(32)
    run = config(epochs=3, collapse_every_steps=2)

    straight = RecordingHooks()
    reference = tiny_simclr()
    train(reference, InMemoryLoader(images, 8), run, tmp_path / "straight", straight, CPU)

    first, second = RecordingHooks(stop_after=stop_after), RecordingHooks()
    stopped = train(tiny_simclr(), InMemoryLoader(images, 8), run, tmp_path / "b", first, CPU)
    resumed_method = tiny_simclr()
    with torch.no_grad():  # make sure nothing of the fresh initialisation survives
        for p in resumed_method.parameters():
            p.add_(1.0)
    result = train(resumed_method, InMemoryLoader(images, 8), run, tmp_path / "b", second, CPU)

    assert not stopped.completed and result.completed and result.steps == 12
    assert [s for s, _, _ in first.metrics + second.metrics] == [s for s, _, _ in straight.metrics]
    assert first.metrics + second.metrics == straight.metrics  # same losses, lr, collapse stats
    for key, value in reference.state_dict().items():
        assert torch.equal(resumed_method.state_dict()[key], value), key


def test_non_finite_loss_raises_naming_the_step_before_updating(tmp_path: Path) -> None:
    method = StubMethod(nan_loss=True)
    before = {k: v.clone() for k, v in method.state_dict().items()}
    loader = InMemoryLoader(torch.rand(16, 3, 8, 8), batch_size=4)
    with pytest.raises(NonFiniteLossError, match="step 1") as caught:
        train(method, loader, config(), tmp_path, device=CPU)
    assert caught.value.step == 1
    for key, value in method.state_dict().items():
        assert torch.equal(value, before[key])


def test_collapse_is_measured_and_warned_about_at_most_once_per_epoch(tmp_path: Path) -> None:
    hooks = RecordingHooks()
    loader = InMemoryLoader(torch.rand(16, 3, 8, 8), batch_size=4)
    method = StubMethod(constant_embeddings=True)
    train(method, loader, config(collapse_every_steps=1), tmp_path, hooks, CPU)
    assert [kind for kind, _ in hooks.events] == ["collapse_warning", "collapse_warning"]
    assert all(m["collapse_std_ratio"] == 0 for _, _, m in hooks.metrics)
    assert method.epochs_started == [0, 1]


def test_checkpoints_every_n_steps_and_at_epoch_ends(tmp_path: Path) -> None:
    hooks = RecordingHooks()
    loader = InMemoryLoader(torch.rand(24, 3, 8, 8), batch_size=4)  # 6 steps per epoch
    result = train(StubMethod(), loader, config(checkpoint_every_steps=4), tmp_path, hooks, CPU)
    assert hooks.checkpoints == [4, 6, 8, 12]
    assert result.checkpoint.name == "step-00000012"


def test_bf16_autocast_trains_with_float32_weights_and_finite_losses(tmp_path: Path) -> None:
    hooks = RecordingHooks()
    method = tiny_simclr()
    run = config(epochs=1, precision="bf16")
    result = train(method, InMemoryLoader(coloured_shapes(16), 8), run, tmp_path, hooks, CPU)
    assert result.completed and all(math.isfinite(m["loss"]) for _, _, m in hooks.metrics)
    assert all(p.dtype == torch.float32 for p in method.parameters())


def test_a_jobs_training_options_are_checked_into_the_config() -> None:
    job = TrainConfig.with_options(
        {"lr": 2, "precision": "bf16", "compile": True},
        epochs=3,
        batch_size=16,
        seed=7,
        log_every_steps=5,
    )
    assert job == TrainConfig(
        epochs=3, batch_size=16, seed=7, lr=2.0, precision="bf16", compile=True, log_every_steps=5
    )
    with pytest.raises(ValueError, match=r"unknown training options \['collapse_every_steps'\]"):
        TrainConfig.with_options({"collapse_every_steps": 1}, epochs=1, batch_size=2)
    with pytest.raises(ValueError, match="precision"):
        TrainConfig.with_options({"precision": "fp16"}, epochs=1, batch_size=2)


def test_a_jobs_recipe_is_the_methods_with_its_own_options_on_top() -> None:
    defaults = OptimizerDefaults(name="lars", lr=0.3, warmup_fraction=0.01, source="ref")
    plain = TrainConfig(epochs=10, batch_size=8)
    assert job_recipe(defaults, plain) == defaults
    job = TrainConfig.with_options(
        {"optimizer": "adamw", "betas": [0.9, 0.95], "clip_lr": False, "warmup_fraction": 0.2},
        epochs=10,
        batch_size=8,
    )
    recipe = job_recipe(defaults, job)
    assert (recipe.name, recipe.betas, recipe.clip_lr) == ("adamw", (0.9, 0.95), False)
    assert (recipe.lr, recipe.warmup_fraction, recipe.source) == (0.3, 0.2, "ref")
    # jobs stored before warm-up was a share of the run say one epoch: 1/10 of this one
    stored = TrainConfig.with_options({"warmup_epochs": 1.0}, epochs=10, batch_size=8)
    assert job_recipe(defaults, stored).warmup_fraction == pytest.approx(0.1)
    with pytest.raises(ValueError):
        TrainConfig.with_options({"betas": [0.9, 1.5]}, epochs=1, batch_size=2)


def test_the_warm_up_is_the_recipes_share_of_the_run(tmp_path: Path) -> None:
    hooks = RecordingHooks()
    method = tiny_simclr()
    run = TrainConfig.with_options(
        {"warmup_fraction": 0.5, "lr": 0.256}, epochs=2, batch_size=8, log_every_steps=1
    )
    train(method, InMemoryLoader(coloured_shapes(16), 8), run, tmp_path, hooks, CPU)
    rates = [m["lr"] for _, _, m in hooks.metrics if "lr" in m]  # 4 steps, 2 warming up
    assert rates[:2] == pytest.approx([0.004, 0.008])
