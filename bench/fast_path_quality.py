"""No quality lost to speed: kNN accuracy of the fast path against float32 at equal epochs.

    .venv/bin/python bench/fast_path_quality.py --data bench/out/cifar10/train

The quality benchmark's protocol (``bench/quality.py``): its CIFAR-10 training subset and
held-out split (``quality_data.load_bench_data``), the product's online weighted kNN
(cosine, k = 200, t = 0.1) after every epoch, SimCLR at batch 128. Each seed trains
twice from the same initialisation and data order: with the job defaults (the fast path:
bf16 autocast where the CPU has bf16 kernels, channels_last) and with
``precision="fp32", channels_last=False``. Prints the final top-1 of each and the gap.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from common import OUT, median
from quality_data import BenchData, load_bench_data

from ssl_engine.data.loader import BatchLoader
from ssl_engine.evaluation.online import KnnEvaluator
from ssl_engine.factory import build_method
from ssl_engine.recipe import Recipe
from ssl_engine.trainer import NullHooks, TrainConfig, train

CPU = torch.device("cpu")


@dataclass
class KnnLog(NullHooks):
    top1: list[float] = field(default_factory=list)

    def on_metrics(self, step: int, epoch: int, metrics: dict[str, float]) -> None:
        if "knn_top1" in metrics:
            self.top1.append(metrics["knn_top1"])


def knn_after_training(data: BenchData, args: argparse.Namespace, seed: int, fast: bool) -> float:
    torch.manual_seed(seed)
    method = build_method(Recipe("simclr", args.backbone, 32))
    evaluator = KnnEvaluator(data.train, data.held_out, num_classes=len(data.classes))
    loader = BatchLoader(data.train.images, None, args.batch_size, CPU, seed)
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=seed,
        precision="auto" if fast else "fp32",
        channels_last=fast,
    )
    log = KnnLog()
    with tempfile.TemporaryDirectory() as checkpoints:
        train(method, loader, config, Path(checkpoints), log, CPU, evaluator=evaluator)
    per_epoch = " ".join(f"{100 * top1:.2f}" for top1 in log.top1)
    side = "fast" if fast else "fp32"
    print(f"  seed {seed} {side}: kNN top-1 per epoch {per_epoch}", flush=True)
    return log.top1[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="CIFAR-10 train/ folder")
    parser.add_argument("--train-per-class", type=int, default=500)
    parser.add_argument("--eval-per-class", type=int, default=500)
    parser.add_argument("--backbone", default="tiny_cnn")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args()
    data = load_bench_data(
        args.data,
        OUT / "cache",
        train_per_class=args.train_per_class,
        eval_per_class=args.eval_per_class,
        image_size=32,
    )
    fast, slow = [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        fast.append(knn_after_training(data, args, seed, fast=True))
        slow.append(knn_after_training(data, args, seed, fast=False))
    gap = 100 * (median(fast) - median(slow))
    print(
        f"{args.backbone}, {args.epochs} epochs, {args.seeds} seeds: kNN top-1 median "
        f"fast {100 * median(fast):.2f}%, fp32 {100 * median(slow):.2f}%, "
        f"gap {gap:+.2f} points (target: within 1)"
    )


if __name__ == "__main__":
    main()
