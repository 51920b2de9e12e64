"""The fast path (bf16 autocast, channels_last, torch.compile): same losses, and off switches.

bf16 is forced on by patching the CPU capability check, so these tests behave the same
on CPUs with and without native bf16 kernels (autocast emulates it where they lack it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from api.schemas.jobs import TrainingOptions
from ssl_engine import acceleration
from ssl_engine.methods.base import Batch, Method, StepOutput
from ssl_engine.methods.registry import METHODS
from ssl_engine.trainer import NullHooks, TrainConfig, train
from tests.engine.test_method_contract import build as build_for_contract
from tests.engine.toy_data import InMemoryLoader, toy_images

IMAGE_SIZE = 16
BATCH_SIZE = 16
CPU = torch.device("cpu")
# bf16 keeps 8 bits of mantissa (relative step 2^-8 = 0.4 %); with the loss reduced in
# float32 the first-step losses of every method stayed within 0.25 % of float32 (absolute
# 1e-4 for SimSiam's loss near 0). A loss reduced in bf16 is caught by the dtype check.
BF16_RTOL = 0.01
BF16_ATOL = 1e-3


@pytest.fixture
def bf16_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make "auto" pick bf16 on this CPU whatever its instruction set."""
    monkeypatch.setattr(acceleration, "_cpu_has_bf16_kernels", lambda: True)


@dataclass
class FirstStep(NullHooks):
    """Records the first step's output and the dtypes the layers computed in."""

    outputs: list[StepOutput] = field(default_factory=list)
    layer_dtypes: set[torch.dtype] = field(default_factory=set)

    def should_stop(self) -> bool:
        return True  # one optimizer step is enough


def build(name: str) -> Method:
    torch.manual_seed(0)
    return build_for_contract(name)


def first_step(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **training: Any
) -> tuple[FirstStep, Method]:
    """Train ``name`` for one step from a fixed init and seed; record what it computed."""
    method = build(name)
    record = FirstStep()
    original = method.training_step

    def recording_step(batch: Batch) -> StepOutput:
        output = original(batch)
        record.outputs.append(output)
        return output

    monkeypatch.setattr(method, "training_step", recording_step)

    def note_dtype(_module: nn.Module, _inputs: Any, output: Tensor) -> None:
        record.layer_dtypes.add(output.dtype)

    for module in method.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            module.register_forward_hook(note_dtype)
    images, labels = toy_images(num_images=BATCH_SIZE * 2, size=IMAGE_SIZE, seed=0)
    config = TrainConfig(epochs=1, batch_size=BATCH_SIZE, collapse_every_steps=0, **training)
    loader = InMemoryLoader(images, BATCH_SIZE, labels=labels)
    train(method, loader, config, tmp_path / "checkpoints", record, CPU)
    return record, method


@pytest.mark.parametrize("name", sorted(METHODS))
def test_fast_path_loss_matches_float32_on_the_same_batch(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bf16_cpu: None
) -> None:
    fast, _ = first_step(name, tmp_path / "fast", monkeypatch)  # job defaults: "auto"
    slow, _ = first_step(
        name, tmp_path / "slow", monkeypatch, precision="fp32", channels_last=False
    )
    assert torch.bfloat16 in fast.layer_dtypes  # the fast path really ran in bf16 ...
    assert slow.layer_dtypes == {torch.float32}  # ... and the float32 path did not
    fast_loss, slow_loss = fast.outputs[0].loss, slow.outputs[0].loss
    assert fast_loss.dtype == torch.float32  # the loss reduction stayed in float32
    assert fast_loss.item() == pytest.approx(slow_loss.item(), rel=BF16_RTOL, abs=BF16_ATOL)


def test_auto_precision_follows_the_devices_bf16_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(acceleration, "_cpu_has_bf16_kernels", lambda: True)
    assert acceleration.use_bf16("auto", CPU)
    assert not acceleration.use_bf16("fp32", CPU)
    monkeypatch.setattr(acceleration, "_cpu_has_bf16_kernels", lambda: False)
    assert not acceleration.use_bf16("auto", CPU)
    assert acceleration.use_bf16("bf16", CPU)  # asked for explicitly, it is honoured


def _conv_weights(method: Method) -> list[Tensor]:
    return [m.weight for m in method.modules() if isinstance(m, nn.Conv2d)]


def test_channels_last_is_on_by_default_and_can_be_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, on = first_step("simclr", tmp_path / "on", monkeypatch)
    _, off = first_step("simclr", tmp_path / "off", monkeypatch, channels_last=False)
    nhwc = torch.channels_last
    assert all(
        w.is_contiguous(memory_format=nhwc) and not w.is_contiguous() for w in _conv_weights(on)
    )
    assert all(
        w.is_contiguous() and not w.is_contiguous(memory_format=nhwc) for w in _conv_weights(off)
    )


def test_compile_is_off_by_default_and_wraps_the_networks_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, default = first_step("simclr", tmp_path / "default", monkeypatch)
    assert all(m._compiled_call_impl is None for m in default.modules())

    method = build("simclr")
    names_before = list(method.state_dict())
    acceleration.compile_children(method)
    compiled = {name for name, m in method.named_children() if m._compiled_call_impl is not None}
    assert compiled == {"backbone", "projector"}  # the augmentation has no parameters
    assert list(method.state_dict()) == names_before  # checkpoints keep their keys


def test_compile_option_reaches_the_trainer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: list[nn.Module] = []
    monkeypatch.setattr("ssl_engine.trainer.compile_children", compiled.append)
    first_step("simclr", tmp_path / "on", monkeypatch, compile=True)
    assert len(compiled) == 1


def test_job_training_options_are_train_config_fields() -> None:
    options = TrainingOptions(precision="fp32", channels_last=False, compile=True)
    config = TrainConfig(epochs=1, batch_size=2, **options.model_dump())
    assert (config.precision, config.channels_last, config.compile) == ("fp32", False, True)
    defaults = TrainConfig(epochs=1, batch_size=2, **TrainingOptions().model_dump())
    assert (defaults.precision, defaults.channels_last, defaults.compile) == ("auto", True, False)
