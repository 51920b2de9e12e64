"""The training loop: one plain loop that calls small collaborators.

    for each epoch:   method.on_epoch_start(...)
      for each batch: loss = method.training_step(batch)   (bf16 autocast where available)
                      guard against a non-finite loss, backward, optimizer + schedule step
                      log metrics / progress, measure collapse, checkpoint, honour a stop

The method owns its views, loss and auxiliary state; ``optim`` builds the optimizer and
the warm-up + cosine schedule; ``checkpoint`` writes and finds crash-safe checkpoints;
``monitor`` measures collapse. The caller (the worker) watches through ``TrainerHooks``.

Exact resume: a checkpoint stores the model, optimizer, scheduler, the position in the
data (epoch, batches done in it) and the global RNG states, and the loader replays an
epoch from any batch. A run stopped at step k and resumed therefore reaches the same
weights as an uninterrupted one, provided the method keeps all of its state in
parameters or buffers. ``on_epoch_start`` is not called again when resuming in the
middle of an epoch, since what it computed is already in the restored buffers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from ssl_engine.acceleration import (
    compile_children,
    resolve_device,
    use_bf16,
    use_channels_last,
)
from ssl_engine.checkpoint import KEEP, TrainingState, load_latest, save_checkpoint
from ssl_engine.methods.base import Batch, EpochContext, Method, OptimizerDefaults, StepOutput
from ssl_engine.monitor import CollapseMonitor
from ssl_engine.optim import build_optimizer, build_scheduler, param_groups
from ssl_engine.train_config import TrainConfig

REFERENCE_BATCH_SIZE = 256  # learning rates are given for this batch and scaled linearly


@dataclass(frozen=True)
class Progress:
    """Where a run is. ``epoch`` is 0-based; ``step`` counts optimizer steps done."""

    epoch: int
    step: int
    total_steps: int
    images_per_sec: float
    eta_seconds: float
    data_wait_fraction: float  # share of wall time spent waiting for the next batch


@dataclass(frozen=True)
class TrainResult:
    completed: bool  # False when stopped early through ``hooks.should_stop``
    steps: int
    epochs_done: int
    last_metrics: dict[str, float]
    checkpoint: Path


class NonFiniteLossError(RuntimeError):
    """The loss was NaN or infinite; raised before the optimizer step could spread it."""

    def __init__(self, step: int, value: float) -> None:
        super().__init__(f"non-finite loss {value} at step {step}; the optimizer was not stepped")
        self.step = step
        self.value = value


class TrainerHooks(Protocol):
    """How the caller watches and steers a run (the worker implements it)."""

    def on_progress(self, progress: Progress) -> None: ...

    def on_metrics(self, step: int, epoch: int, metrics: dict[str, float]) -> None: ...

    def on_checkpoint(self, path: Path, step: int, epoch: int) -> None: ...

    def on_event(self, kind: str, message: str) -> None: ...

    def should_stop(self) -> bool: ...  # checked after every optimizer step


class NullHooks:
    """Hooks that ignore everything and never stop the run."""

    def on_progress(self, progress: Progress) -> None:
        pass

    def on_metrics(self, step: int, epoch: int, metrics: dict[str, float]) -> None:
        pass

    def on_checkpoint(self, path: Path, step: int, epoch: int) -> None:
        pass

    def on_event(self, kind: str, message: str) -> None:
        pass

    def should_stop(self) -> bool:
        return False


class LoaderLike(Protocol):
    """What the trainer needs from a data loader (``ssl_engine.data.BatchLoader``)."""

    @property
    def steps_per_epoch(self) -> int: ...

    def __len__(self) -> int: ...  # number of images in the dataset

    def epoch(self, epoch_index: int, start_step: int = 0) -> Iterator[Batch]: ...

    def ordered(self, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]: ...


class EpochEvaluator(Protocol):
    """Scores the representation at each epoch end (``evaluation.online.KnnEvaluator``)."""

    def evaluate(self, method: Method, device: torch.device) -> dict[str, float]: ...


class ThroughputMeter:
    """Images/s, ETA and data-wait share over the window since the last report.

    Host-side timing is faithful because every step syncs with the device anyway (the
    loss is read back to check that it is finite).
    """

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self._start = time.perf_counter()
        self._waited = 0.0
        self._images = 0
        self._steps = 0

    def timed(self, batches: Iterable[Batch]) -> Iterator[Batch]:
        """Yield ``batches``, adding the time spent fetching each to the data wait."""
        iterator = iter(batches)
        while True:
            started = time.perf_counter()
            batch = next(iterator, None)
            self._waited += time.perf_counter() - started
            if batch is None:
                return
            yield batch

    def count(self, images: int) -> None:
        self._images += images
        self._steps += 1

    def report(self, epoch: int, step: int, total_steps: int) -> Progress:
        """Progress over the current window, then start a new window."""
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        seconds_per_step = elapsed / max(self._steps, 1)
        progress = Progress(
            epoch=epoch,
            step=step,
            total_steps=total_steps,
            images_per_sec=self._images / elapsed,
            eta_seconds=(total_steps - step) * seconds_per_step,
            data_wait_fraction=min(self._waited / elapsed, 1.0),
        )
        self.restart()
        return progress


class Checkpointer:
    """Saves at most once per step and tells the hooks."""

    def __init__(
        self,
        directory: Path,
        method: Method,
        optimizer: Optimizer,
        scheduler: LRScheduler,
        hooks: TrainerHooks,
        keep: int = KEEP,
    ) -> None:
        self.directory = directory
        self.method = method
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.hooks = hooks
        self.keep = keep
        self.last_step = -1
        self.last_path: Path | None = None

    def save(self, step: int, epoch: int, step_in_epoch: int) -> Path:
        """Checkpoint the position (epoch, step_in_epoch) to continue from after ``step``."""
        if step != self.last_step or self.last_path is None:
            self.last_path = save_checkpoint(
                self.directory,
                model=self.method,
                optimizer=self.optimizer,
                scheduler=self.scheduler,
                step=step,
                epoch=epoch,
                step_in_epoch=step_in_epoch,
                keep=self.keep,
            )
            self.last_step = step
            self.hooks.on_checkpoint(self.last_path, step, epoch)
        return self.last_path


def _optimization(
    method: Method, config: TrainConfig, total_steps: int
) -> tuple[Optimizer, LRScheduler]:
    recipe = job_recipe(method.optimizer_defaults, config)
    optimizer = build_optimizer(
        recipe.name,
        param_groups(method, recipe.weight_decay),
        lr=recipe.lr * config.batch_size / REFERENCE_BATCH_SIZE,
        weight_decay=recipe.weight_decay,
        momentum=recipe.momentum,
        trust_coefficient=recipe.trust_coefficient,
        clip_lr=recipe.clip_lr,
        betas=recipe.betas,
    )
    warmup_steps = min(round(recipe.warmup_fraction * total_steps), total_steps)
    return optimizer, build_scheduler(optimizer, total_steps, warmup_steps)


def job_recipe(defaults: OptimizerDefaults, config: TrainConfig) -> OptimizerDefaults:
    """The method's recipe with the job's own training options on top.

    A warm-up given in epochs (``warmup_epochs``, as jobs stored before warm-up scaled
    with the run have it) becomes the same share of this run.
    """
    overrides: dict[str, Any] = {
        name: value
        for name, value in (
            ("name", config.optimizer),
            ("lr", config.lr),
            ("weight_decay", config.weight_decay),
            ("momentum", config.momentum),
            ("trust_coefficient", config.trust_coefficient),
            ("clip_lr", config.clip_lr),
            ("betas", None if config.betas is None else tuple(config.betas)),
            ("warmup_fraction", config.warmup_fraction),
        )
        if value is not None
    }
    if config.warmup_epochs is not None:
        overrides["warmup_fraction"] = min(config.warmup_epochs / config.epochs, 1.0)
    return replace(defaults, **overrides)


def _restore(
    state: TrainingState, method: Method, optimizer: Optimizer, scheduler: LRScheduler
) -> None:
    method.load_state_dict(state.model)
    optimizer.load_state_dict(state.optimizer)
    scheduler.load_state_dict(state.scheduler)
    torch.set_rng_state(state.rng_cpu)
    if torch.cuda.is_available() and len(state.rng_cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state.rng_cuda)


def _optimizer_step(
    method: Method,
    batch: Batch,
    optimizer: Optimizer,
    scheduler: LRScheduler,
    step: int,
    bf16: bool,
) -> tuple[StepOutput, dict[str, float]]:
    """One forward/backward/update; returns the method's output and the step's metrics."""
    with torch.autocast(batch.images.device.type, dtype=torch.bfloat16, enabled=bf16):
        output = method.training_step(batch)
    loss = output.loss.item()
    if not math.isfinite(loss):
        raise NonFiniteLossError(step, loss)
    lr = optimizer.param_groups[0]["lr"]
    optimizer.zero_grad(set_to_none=True)
    output.loss.backward()
    optimizer.step()
    scheduler.step()
    return output, {**output.metrics, "loss": loss, "lr": lr}


def _due(step: int, every: int) -> bool:
    """Whether something done every ``every`` steps (0 = never) happens at ``step``."""
    return every > 0 and step % every == 0


def train(
    method: Method,
    loader: LoaderLike,
    config: TrainConfig,
    checkpoint_dir: Path,
    hooks: TrainerHooks = NullHooks(),
    device: torch.device | None = None,
    evaluator: EpochEvaluator | None = None,
    epoch_end: Callable[[int, Method], None] | None = None,
) -> TrainResult:
    """Train ``method`` on ``loader``, resuming from ``checkpoint_dir`` if it holds a run.

    ``evaluator``'s metrics (e.g. ``knn_top1``) are logged at the last step of each epoch;
    then ``epoch_end(epoch, method)`` runs (the worker draws the epoch's pictures there).

    Raises NonFiniteLossError (naming the step) as soon as a loss is NaN or infinite.
    """
    device = device or resolve_device("auto")
    torch.manual_seed(config.seed)
    method.to(device)
    if use_channels_last(config.channels_last, device):
        method.to(memory_format=torch.channels_last)
    if config.compile:
        compile_children(method)
    bf16 = use_bf16(config.precision, device)

    steps_per_epoch = loader.steps_per_epoch
    total_steps = config.epochs * steps_per_epoch
    optimizer, scheduler = _optimization(method, config, total_steps)
    checkpointer = Checkpointer(
        checkpoint_dir, method, optimizer, scheduler, hooks, config.checkpoints_kept
    )
    step, start_epoch, start_in_epoch = 0, 0, 0
    resumed = load_latest(checkpoint_dir)
    if resumed is not None:
        _restore(resumed, method, optimizer, scheduler)
        step, start_epoch, start_in_epoch = resumed.step, resumed.epoch, resumed.step_in_epoch
        checkpointer.last_step, checkpointer.last_path = resumed.step, resumed.path
        hooks.on_event("resumed", f"resumed from {resumed.path.name} at step {step}")

    meter = ThroughputMeter()
    monitor = CollapseMonitor()
    last_metrics: dict[str, float] = {}
    warned_epoch = -1
    for epoch in range(start_epoch, config.epochs):
        first = start_in_epoch if epoch == start_epoch else 0
        if first == 0:
            method.on_epoch_start(
                EpochContext(
                    epoch=epoch,
                    total_epochs=config.epochs,
                    device=device,
                    dataset_size=len(loader),
                    iterate_dataset=lambda: loader.ordered(config.batch_size),
                )
            )
        method.train()
        meter.restart()
        batches = meter.timed(loader.epoch(epoch, start_step=first))
        for step_in_epoch, batch in enumerate(batches, start=first + 1):
            step += 1
            output, step_metrics = _optimizer_step(method, batch, optimizer, scheduler, step, bf16)
            method.on_step_end(step / total_steps)
            meter.count(batch.images.shape[0])

            logged = _due(step, config.log_every_steps) or step == total_steps
            metrics = dict(step_metrics) if logged else {}
            if _due(step, config.collapse_every_steps) and output.embeddings is not None:
                report = monitor.update(output.embeddings)
                metrics.update(report.metrics)
                if report.collapsed and warned_epoch != epoch:
                    warned_epoch = epoch
                    hooks.on_event("collapse_warning", _collapse_message(step, report.metrics))
            if metrics:
                hooks.on_metrics(step, epoch, metrics)
                last_metrics.update(metrics)
            if logged:
                hooks.on_progress(meter.report(epoch, step, total_steps))
            epoch_done = step_in_epoch == steps_per_epoch
            if epoch_done and evaluator is not None:  # outside the throughput window
                evaluated = evaluator.evaluate(method, device)
                hooks.on_metrics(step, epoch, evaluated)
                last_metrics.update(evaluated)
            if epoch_done and epoch_end is not None:
                epoch_end(epoch, method)

            # Position to continue from: the next batch of this epoch, or the next epoch.
            position = (epoch + 1, 0) if epoch_done else (epoch, step_in_epoch)
            if epoch_done or _due(step, config.checkpoint_every_steps):
                checkpointer.save(step, *position)
            if step < total_steps and hooks.should_stop():
                return TrainResult(
                    completed=False,
                    steps=step,
                    epochs_done=step // steps_per_epoch,
                    last_metrics=last_metrics,
                    checkpoint=checkpointer.save(step, *position),
                )
    return TrainResult(
        completed=True,
        steps=step,
        epochs_done=step // steps_per_epoch,
        last_metrics=last_metrics,
        checkpoint=checkpointer.save(step, config.epochs, 0),
    )


def _collapse_message(step: int, metrics: dict[str, float]) -> str:
    return (
        f"embeddings look collapsed at step {step}: std ratio "
        f"{metrics['collapse_std_ratio']:.3f} (1 = spread, 0 = collapsed), "
        f"effective rank {metrics['effective_rank']:.1f}"
    )
