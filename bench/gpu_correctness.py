"""CUDA checks of the fast path, for a machine with a GPU (run by bench/gpu_check.sh).

    python3 bench/gpu_correctness.py [--device cuda]

1. The first step's loss of SimCLR (CIFAR ResNet-18, batch 128) from one initialisation
   and one seed: the job defaults (bf16 autocast + channels_last) against float32 without
   channels_last, within bf16 tolerance, the loss itself in float32.
2. The batched augmentation on CUDA: views in [0, 1] with the right shape, copies of one
   image given different views, and an identity configuration leaving images unchanged.
Exits non-zero on the first failed check.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor

from ssl_engine.augment import ViewAugment, ViewAugmentConfig
from ssl_engine.augment.presets import simclr_config
from ssl_engine.factory import build_method
from ssl_engine.methods.base import Batch, StepOutput
from ssl_engine.recipe import Recipe
from ssl_engine.trainer import NullHooks, TrainConfig, train

BATCH = 128
SIZE = 32


class OneStep(NullHooks):
    def should_stop(self) -> bool:
        return True


class FixedBatch:
    """The same batch twice, so a run has more than one step to stop after."""

    steps_per_epoch = 2

    def __init__(self, images: Tensor) -> None:
        self.images = images  # (B, 3, S, S) on the device

    def __len__(self) -> int:
        return 2 * len(self.images)

    def epoch(self, epoch_index: int, start_step: int = 0) -> Iterator[Batch]:
        indices = torch.arange(len(self.images), device=self.images.device)
        for _ in range(start_step, self.steps_per_epoch):
            yield Batch(images=self.images, indices=indices)

    def ordered(self, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
        raise NotImplementedError("SimCLR never iterates the dataset in order")


def first_loss(images: Tensor, *, fast: bool) -> StepOutput:
    torch.manual_seed(0)
    method = build_method(Recipe("simclr", "resnet18", SIZE))
    outputs: list[StepOutput] = []
    step = method.training_step

    def recording(batch: Batch) -> StepOutput:
        outputs.append(step(batch))
        return outputs[-1]

    method.training_step = recording  # type: ignore[method-assign]
    config = TrainConfig(
        epochs=1,
        batch_size=BATCH,
        precision="auto" if fast else "fp32",
        channels_last=fast,
    )
    with tempfile.TemporaryDirectory() as checkpoints:
        train(method, FixedBatch(images), config, Path(checkpoints), OneStep(), images.device)
    return outputs[0]


def check_losses(device: torch.device) -> None:
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(BATCH, 3, SIZE, SIZE, generator=generator).to(device)
    fast, slow = first_loss(images, fast=True), first_loss(images, fast=False)
    relative = abs(fast.loss.item() - slow.loss.item()) / abs(slow.loss.item())
    print(f"loss fast {fast.loss.item():.5f} fp32 {slow.loss.item():.5f} rel diff {relative:.2e}")
    assert fast.loss.dtype == torch.float32, fast.loss.dtype
    assert relative < 0.01, relative


def check_augment(device: torch.device) -> None:
    torch.manual_seed(0)
    one = torch.rand(1, 3, SIZE, SIZE, device=device).expand(64, -1, -1, -1)  # 64 copies
    views = ViewAugment(simclr_config(SIZE))(one)  # (64, 3, S, S)
    assert views.shape == (64, 3, SIZE, SIZE) and views.device == one.device
    assert views.min().item() >= 0 and views.max().item() <= 1
    distinct = len({tuple(v.flatten()[:16].tolist()) for v in views})
    print(f"augment on {device}: {distinct} distinct views of 64 copies of one image")
    assert distinct == 64
    identity = ViewAugmentConfig(
        output_size=SIZE, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0,
        jitter_p=0.0, grayscale_p=0.0,
    )  # fmt: skip
    images = torch.rand(8, 3, SIZE, SIZE, device=device)
    torch.testing.assert_close(ViewAugment(identity)(images), images, atol=1e-5, rtol=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    device = torch.device(parser.parse_args().device)
    if device.type == "cuda":
        print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}")
    check_losses(device)
    check_augment(device)
    print(f"fast-path checks passed on {device}")


if __name__ == "__main__":
    main()
