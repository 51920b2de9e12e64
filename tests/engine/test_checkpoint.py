"""Checkpoints: round trip, fallback past a damaged newest one, pruning, strict loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from ssl_engine.checkpoint import (
    LATEST_FILE,
    MODEL_FILE,
    load_latest,
    load_model_weights,
    save_checkpoint,
)
from ssl_engine.optim import build_optimizer, build_scheduler


class TiedNet(nn.Module):
    """Two names for one weight, plus a buffer: what safetensors is picky about."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(4, 4)
        self.decoder = nn.Linear(4, 4)
        self.decoder.weight = self.encoder.weight  # shared storage
        self.register_buffer("queue", torch.randn(8, 4).t())  # non-contiguous


def trained(model: nn.Module) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    optimizer = build_optimizer("sgd", model.parameters(), lr=0.1, weight_decay=0.0, momentum=0.9)
    scheduler = build_scheduler(optimizer, total_steps=10, warmup_steps=2)
    for _ in range(2):
        loss = sum(p.square().sum() for p in model.parameters())
        optimizer.zero_grad()
        loss.backward()  # type: ignore[union-attr]
        optimizer.step()
        scheduler.step()
    return optimizer, scheduler


def save(directory: Path, model: nn.Module, step: int, keep: int = 2) -> Path:
    optimizer, scheduler = trained(model)
    return save_checkpoint(
        directory,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        step=step,
        epoch=1,
        step_in_epoch=3,
        keep=keep,
    )


def test_round_trip_restores_weights_optimizer_scheduler_position_and_rng(tmp_path: Path) -> None:
    model = TiedNet()
    optimizer, scheduler = trained(model)
    torch.manual_seed(7)
    path = save_checkpoint(
        tmp_path, model=model, optimizer=optimizer, scheduler=scheduler,
        step=12, epoch=1, step_in_epoch=3,
    )  # fmt: skip
    expected_draw = torch.rand(3)

    state = load_latest(tmp_path)
    assert state is not None
    assert state.path == path and path.name == "step-00000012"
    assert (tmp_path / LATEST_FILE).read_text().strip() == "step-00000012"
    assert (state.step, state.epoch, state.step_in_epoch) == (12, 1, 3)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(state.model[key], value)
    fresh = TiedNet()
    fresh.load_state_dict(state.model)
    fresh_optimizer, fresh_scheduler = trained(TiedNet())
    fresh_optimizer.load_state_dict(state.optimizer)
    fresh_scheduler.load_state_dict(state.scheduler)
    assert fresh_scheduler.last_epoch == scheduler.last_epoch
    torch.testing.assert_close(
        fresh_optimizer.state_dict()["state"][0]["momentum_buffer"],
        optimizer.state_dict()["state"][0]["momentum_buffer"],
    )
    torch.set_rng_state(state.rng_cpu)
    torch.testing.assert_close(torch.rand(3), expected_draw)


def test_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path: Path) -> None:
    save(tmp_path, TiedNet(), step=1)
    newest = save(tmp_path, TiedNet(), step=2)
    weights = newest / MODEL_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # flip bits in the last stored float
    weights.write_bytes(bytes(data))

    state = load_latest(tmp_path)
    assert state is not None and state.step == 1


def test_truncated_state_file_falls_back_too(tmp_path: Path) -> None:
    save(tmp_path, TiedNet(), step=1)
    newest = save(tmp_path, TiedNet(), step=2)
    (newest / "state.pt").write_bytes(b"torn")
    state = load_latest(tmp_path)
    assert state is not None and state.step == 1


def test_keeps_only_the_newest_two_and_no_temporary_leftovers(tmp_path: Path) -> None:
    for step in (1, 2, 3):
        save(tmp_path, TiedNet(), step=step)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        LATEST_FILE, "step-00000002", "step-00000003",
    ]  # fmt: skip


def test_keeps_as_many_as_asked(tmp_path: Path) -> None:
    for step in (1, 2, 3, 4, 5):
        save(tmp_path, TiedNet(), step=step, keep=3)
    steps = sorted(p.name for p in tmp_path.iterdir() if p.name != LATEST_FILE)
    assert steps == ["step-00000003", "step-00000004", "step-00000005"]


def test_saving_after_resuming_past_a_damaged_checkpoint_discards_it(tmp_path: Path) -> None:
    save(tmp_path, TiedNet(), step=5)
    save(tmp_path, TiedNet(), step=9)  # pretend it was damaged and training resumed at 5
    save(tmp_path, TiedNet(), step=6)
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-00000005", "step-00000006"]


def test_empty_or_missing_directory_has_no_checkpoint(tmp_path: Path) -> None:
    assert load_latest(tmp_path) is None
    assert load_latest(tmp_path / "missing") is None


def test_load_model_weights_is_strict(tmp_path: Path) -> None:
    model = TiedNet()
    path = save(tmp_path, model, step=1)
    restored = TiedNet()
    load_model_weights(path / MODEL_FILE, restored)
    torch.testing.assert_close(restored.encoder.weight, model.encoder.weight)
    with pytest.raises(RuntimeError, match="Missing key"):
        load_model_weights(path, nn.Sequential(TiedNet(), nn.Linear(2, 2)))
