"""Training throughput: the engine's fast path against lightly's reference SimCLR loop.

    .venv/bin/python bench/throughput.py                 (results: bench/RESULTS.md)

Work, the same on every side: SimCLR with torchvision's ResNet-18 and the CIFAR 3x3
stem, batch 128, 32 px CIFAR-10 images (``../shared/datasets/cifar10/train.tar``,
extracted under bench/out), SimCLR's augmentations without blur, SGD with momentum.
Images/s over whole steps (data + forward + backward + optimizer), after warm-up steps.

Sides, alternating within each repetition (the order flips every repetition):

* ``peer``: lightly's reference loop (``bench/peer_simclr.py``: ImageFolder +
  SimCLRTransform in 2 DataLoader workers, float32), run in ``bench/.venv-peer``.
* ``ours``: the engine with its job defaults (uint8 cache, batched augmentation, and
  what ``ssl_engine.acceleration`` turns on for the device), through ``trainer.train``.
* ``ours_fp32``: the same with ``precision="fp32", channels_last=False`` (optional).
* ``limit``: the same trainer and model on one pre-made batch of views (augmentation
  replaced by identity, no loader): what the model alone allows.

Then, with ``--service``: the same job submitted over HTTP to a real API + worker (SQLite
and the filesystem broker) against the engine called directly on the same data; both
report the trainer's windowed images/s, whose first window (warm-up) is dropped.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from common import (
    OUT,
    PEER_PYTHON,
    ROOT,
    StepClock,
    class_subset,
    extract_cifar,
    load_average,
    machine,
    median,
)
from torch import Tensor, nn

from ssl_engine.acceleration import use_bf16, use_channels_last
from ssl_engine.augment import ViewAugment
from ssl_engine.augment.presets import simclr_config
from ssl_engine.data.cache import build_uint8_cache
from ssl_engine.data.loader import BatchLoader
from ssl_engine.data.scan import scan_image_folder
from ssl_engine.evaluation.online import hold_out_for_knn
from ssl_engine.factory import build_method
from ssl_engine.methods.base import Batch
from ssl_engine.recipe import Recipe
from ssl_engine.trainer import NullHooks, Progress, TrainConfig, train

IMAGE_SIZE = 32
SIDES = ("peer", "ours", "ours_fp32", "limit")


@dataclass
class TimedRun(NullHooks):
    """Trainer hooks that time every step and stop the run after ``total`` steps."""

    clock: StepClock
    total: int
    progress: list[Progress] = field(default_factory=list)

    def on_progress(self, progress: Progress) -> None:
        self.progress.append(progress)

    def should_stop(self) -> bool:  # called after every optimizer step
        self.clock.tick()
        return self.clock.steps >= self.total

    def data_wait(self) -> float:
        """Mean data-wait share of the timed steps (progress is logged every step)."""
        timed = self.progress[self.clock.warmup_steps :]
        return sum(p.data_wait_fraction for p in timed) / max(len(timed), 1)


class PremadeBatches:
    """A loader that hands out one batch, already on the device, over and over."""

    def __init__(self, batch: Batch, dataset_size: int) -> None:
        self.batch = batch
        self.dataset_size = dataset_size

    @property
    def steps_per_epoch(self) -> int:
        return self.dataset_size // self.batch.images.shape[0]

    def __len__(self) -> int:
        return self.dataset_size

    def epoch(self, epoch_index: int, start_step: int = 0) -> Iterator[Batch]:
        for _ in range(start_step, self.steps_per_epoch):
            yield self.batch

    def ordered(self, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
        raise NotImplementedError("SimCLR never iterates the dataset in order")


@dataclass(frozen=True)
class Measured:
    images_per_sec: float  # wall clock
    images_per_cpu_sec: float  # per CPU second of the side's threads and processes
    data_wait: float = float("nan")


def run_peer(data: Path, args: argparse.Namespace) -> Measured:
    command = [
        args.peer_python,
        str(ROOT / "bench" / "peer_simclr.py"),
        f"--data={data}",
        f"--steps={args.steps}",
        f"--warmup={args.warmup}",
        f"--batch-size={args.batch_size}",
        f"--device={args.device}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"peer failed:\n{done.stderr[-3000:]}")
    rates = json.loads(done.stdout.strip().splitlines()[-1])
    return Measured(rates["images_per_sec"], rates["images_per_cpu_sec"])


def run_ours(images: Tensor, args: argparse.Namespace, rep: int, *, fast: bool) -> Measured:
    """The engine's own path: BatchLoader over the uint8 cache -> trainer -> SimCLR.

    ``fast``: the job defaults; otherwise float32 without channels_last.
    """
    device = torch.device(args.device)
    loader = BatchLoader(images, None, args.batch_size, device, seed=rep)
    return _train_timed(loader, args, rep, identity_augment=False, fast=fast)


def run_limit(images: Tensor, args: argparse.Namespace, rep: int) -> Measured:
    """The same trainer and model on one pre-made batch of views: no data pipeline."""
    device = torch.device(args.device)
    pixels = images[: args.batch_size].to(device).float().div_(255)  # (B, 3, S, S)
    views = ViewAugment(simclr_config(IMAGE_SIZE))(pixels)  # (B, 3, S, S): one view each
    batch = Batch(images=views, indices=torch.arange(args.batch_size, device=device))
    loader = PremadeBatches(batch, len(images))
    return _train_timed(loader, args, rep, identity_augment=True, fast=True)


def _train_timed(
    loader: BatchLoader | PremadeBatches,
    args: argparse.Namespace,
    rep: int,
    *,
    identity_augment: bool,
    fast: bool,
) -> Measured:
    torch.manual_seed(rep)
    method = build_method(Recipe("simclr", "resnet18", IMAGE_SIZE))
    if identity_augment:
        method.augment = nn.Identity()
    config = TrainConfig(
        epochs=1,
        batch_size=args.batch_size,
        seed=rep,
        log_every_steps=1,
        precision="auto" if fast else "fp32",
        channels_last=fast,
    )
    hooks = TimedRun(StepClock(args.warmup), total=args.warmup + args.steps)
    with tempfile.TemporaryDirectory() as checkpoints:
        train(method, loader, config, Path(checkpoints), hooks, torch.device(args.device))
    clock = hooks.clock
    return Measured(
        clock.images_per_sec(args.batch_size),
        clock.images_per_cpu_sec(args.batch_size),
        hooks.data_wait(),
    )


# ----------------------------------------------------------------- service overhead


def service_windows(subset: Path, args: argparse.Namespace) -> list[float]:
    """Images/s windows of one epoch run as a job by a real API + worker."""
    sys.path.insert(0, str(ROOT))
    from tests.integration.services import running_service, wait_for_job

    env = {
        "SSLPT_TORCH_THREADS": "0",  # torch's default, as in the direct run
        "SSLPT_PROGRESS_EVERY_STEPS": str(args.window),
        "SSLPT_LEASE_SECONDS": "120",
        "SSLPT_DEVICE": args.device,
        "SSLPT_DATASET_ROOTS": str(subset.parent),
    }
    with tempfile.TemporaryDirectory() as tmp, running_service(Path(tmp), **env) as service:
        client = service.client(timeout=30)
        dataset = client.post("/v1/datasets", json={"name": "cifar", "path": str(subset)})
        body = {
            "method": "simclr",
            "dataset_id": dataset.json()["id"],
            "backbone": "resnet18",
            "epochs": 1,
            "batch_size": args.batch_size,
            "image_size": IMAGE_SIZE,
        }
        job = client.post("/v1/jobs", json=body).json()
        finished = wait_for_job(client, job["id"], timeout=3600)
        if finished["status"] != "succeeded":
            raise SystemExit(f"service job ended {finished['status']}: {finished}")
        series = client.get(f"/v1/jobs/{job['id']}/metrics", params={"name": "images_per_sec"})
        return [point["value"] for point in series.json()["series"]["images_per_sec"]]


@dataclass
class WindowLog(NullHooks):
    images_per_sec: list[float] = field(default_factory=list)

    def on_progress(self, progress: Progress) -> None:
        self.images_per_sec.append(progress.images_per_sec)


def direct_windows(subset: Path, args: argparse.Namespace) -> list[float]:
    """The worker's engine calls, made directly: same data split, config and windows."""
    scan = scan_image_folder(subset)
    cached = build_uint8_cache(subset, scan.files, IMAGE_SIZE, OUT / "cache")
    assert scan.labels is not None and scan.classes is not None
    train_part, evaluator = hold_out_for_knn(
        cached.images, cached.select(scan.files), cached.select(scan.labels), len(scan.classes)
    )
    device = torch.device(args.device)
    loader = BatchLoader(train_part.images, train_part.labels, args.batch_size, device, 0)
    torch.manual_seed(0)
    method = build_method(Recipe("simclr", "resnet18", IMAGE_SIZE))
    config = TrainConfig(epochs=1, batch_size=args.batch_size, log_every_steps=args.window)
    log = WindowLog()
    with tempfile.TemporaryDirectory() as checkpoints:
        train(method, loader, config, Path(checkpoints), log, device, evaluator=evaluator)
    return log.images_per_sec


def service_overhead(args: argparse.Namespace, data: Path) -> None:
    subset = class_subset(data, OUT / f"cifar10-{args.service_per_class}", args.service_per_class)
    runs: dict[str, list[float]] = {"service": [], "direct": []}
    measure: dict[str, Callable[[Path, argparse.Namespace], list[float]]] = {
        "service": service_windows,
        "direct": direct_windows,
    }
    for rep in range(args.service_reps):
        for name in ("direct", "service") if rep % 2 == 0 else ("service", "direct"):
            windows = measure[name](subset, args)[1:]  # the first window holds warm-up
            runs[name].extend(windows)
            print(f"  {name:8s} windows {[round(w, 1) for w in windows]}  load {load_average()}")
    service, direct = median(runs["service"]), median(runs["direct"])
    print(f"service overhead: service {service:.1f} img/s, direct {direct:.1f} img/s, ")
    print(f"  overhead {100 * (1 - service / direct):.1f}%  (target <= 5%)")


# ----------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per side and rep")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sides", default="peer,ours,limit", help=f"from {','.join(SIDES)}")
    parser.add_argument("--service", action="store_true", help="also measure API overhead")
    parser.add_argument("--service-reps", type=int, default=2)
    parser.add_argument("--service-per-class", type=int, default=400, help="images per class")
    parser.add_argument("--window", type=int, default=5, help="steps per images/s window")
    parser.add_argument("--data", type=Path, help="class folders; default: CIFAR-10's tar")
    parser.add_argument("--peer-python", default=str(PEER_PYTHON), help="python with lightly")
    args = parser.parse_args()
    sides = [side for side in args.sides.split(",") if side]  # "" with --service: only that
    if unknown := set(sides) - set(SIDES):
        parser.error(f"unknown sides {sorted(unknown)}; known: {list(SIDES)}")

    device = torch.device(args.device)
    print(f"machine: {machine()}; torch threads {torch.get_num_threads()}")
    print(
        f"fast path on {device.type}: bf16 {use_bf16('auto', device)}, "
        f"channels_last {use_channels_last(True, device)}"
    )
    data = args.data or extract_cifar()
    scan = scan_image_folder(data)
    images = build_uint8_cache(data, scan.files, IMAGE_SIZE, OUT / "cache").images
    print(f"data: {len(images)} images at {IMAGE_SIZE}px from {data}")

    measure: dict[str, Callable[[int], Measured]] = {
        "peer": lambda rep: run_peer(data, args),
        "ours": lambda rep: run_ours(images, args, rep, fast=True),
        "ours_fp32": lambda rep: run_ours(images, args, rep, fast=False),
        "limit": lambda rep: run_limit(images, args, rep),
    }
    results: dict[str, list[Measured]] = {side: [] for side in sides}
    for rep in range(args.reps):
        for side in sides if rep % 2 == 0 else reversed(sides):
            results[side].append(measure[side](rep))
            got = results[side][-1]
            print(
                f"  rep {rep} {side:9s} {got.images_per_sec:6.1f} img/s  "
                f"{got.images_per_cpu_sec:6.1f} img/cpu-s  data-wait {got.data_wait:.3f}  "
                f"load {load_average()}",
                flush=True,
            )
    if results:
        report(results, args)
    if args.service:
        service_overhead(args, data)


def report(results: dict[str, list[Measured]], args: argparse.Namespace) -> None:
    """Medians per side and the target ratios, by wall clock and by CPU time."""
    wall = {side: median([m.images_per_sec for m in runs]) for side, runs in results.items()}
    cpu = {side: median([m.images_per_cpu_sec for m in runs]) for side, runs in results.items()}
    print(f"\nmedians over {args.reps} reps of {args.steps} timed steps:")
    print(f"  {'side':9s} {'img/s':>7s} {'img/cpu-s':>10s} {'data-wait':>10s}")
    for side in results:
        waits = median([m.data_wait for m in results[side]])
        print(f"  {side:9s} {wall[side]:7.1f} {cpu[side]:10.1f} {waits:10.3f}")
    for mine, theirs, target in (
        ("ours", "peer", "target >= 1.8"),
        ("ours", "limit", "target >= 0.9"),
        ("ours", "ours_fp32", "bf16 + channels_last vs float32"),
    ):
        if mine in results and theirs in results:
            print(
                f"{mine} / {theirs}: {wall[mine] / wall[theirs]:.2f} by wall clock, "
                f"{cpu[mine] / cpu[theirs]:.2f} by CPU time  ({target})"
            )


if __name__ == "__main__":
    main()
