"""Representation quality of every registered method on CIFAR-10, and lightly's SimCLR.

    .venv/bin/python bench/quality.py --data /tmp/cifar10/train        (see bench/RESULTS.md)

Every method of ``ssl_engine.methods.registry`` trains through the product's own trainer
with the product's online kNN evaluator (weighted kNN, cosine, k = 200, t = 0.1, the
protocol of lightly's benchmarks) on the same training subset, at the same batch size and
epochs; the held-out images are the product's split (500 per class). Before training,
the same evaluator scores the randomly initialised backbone: the baseline a method has
to beat. lightly's SimCLR (``bench/quality_lightly.py``) runs in ``bench/.venv-peer`` as a
subprocess of the same run, with the same backbone, data, batch size, epochs and
augmentation strengths. Then, at equal wall-clock: our SimCLR gets as many epochs as fit
in the training time lightly's SimCLR needs for its epochs (each side's speed taken from
its fastest epoch, since other processes share the machine).

Runs go one after the other (never concurrently, so timings are not shared), and each
result is appended to ``bench/out/quality-<time>.jsonl`` as it lands. Prints one table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from quality_data import BenchData, load_bench_data
from quality_report import RunResult, table

from ssl_engine.data.loader import BatchLoader
from ssl_engine.evaluation.online import KnnEvaluator
from ssl_engine.factory import build_method
from ssl_engine.methods.registry import METHODS
from ssl_engine.recipe import Recipe
from ssl_engine.trainer import NullHooks, TrainConfig, train

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parent.parent
PEER_PYTHON = ROOT / "bench" / ".venv-peer" / "bin" / "python"
# For methods that cannot take the benchmark's backbone (MAE: a ViT; DAE, VAE: conv
# autoencoders): their smallest encoder, so they stay within the CPU budget.
SMALLEST_BACKBONES = ("tiny_cnn", "vit_micro", "conv_small")


@dataclass
class EvaluationLog(NullHooks):
    """Keeps the evaluator's numbers and the training time of every epoch."""

    knn: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    eval_seconds: float = 0.0
    mark: float = field(default_factory=time.perf_counter)  # end of the last evaluation

    def on_metrics(self, step: int, epoch: int, metrics: dict[str, float]) -> None:
        if "knn_top1" in metrics:  # logged right after the evaluation at the epoch's end
            now = time.perf_counter()
            self.knn.append(metrics["knn_top1"])
            self.epoch_seconds.append(now - metrics["knn_seconds"] - self.mark)
            self.eval_seconds += metrics["knn_seconds"]
            self.mark = now


def backbone_for(method: str, wanted: str) -> str:
    """``wanted`` where the method allows it, else the smallest backbone it allows."""
    allowed = METHODS[method].allowed_backbones
    preferred = [wanted, *SMALLEST_BACKBONES]
    return next((name for name in preferred if name in allowed), allowed[0])


def run_ours(method: str, data: BenchData, args: argparse.Namespace, epochs: int) -> RunResult:
    backbone = backbone_for(method, args.backbone)
    torch.manual_seed(args.seed)  # the worker seeds the same way before building
    model = build_method(Recipe(method, backbone, args.image_size))
    evaluator = KnnEvaluator(data.train, data.held_out, num_classes=len(data.classes))
    random_init = evaluator.evaluate(model, CPU)["knn_top1"]
    loader = BatchLoader(data.train.images, None, args.batch_size, CPU, args.seed)
    config = TrainConfig(epochs=epochs, batch_size=args.batch_size, seed=args.seed)
    with tempfile.TemporaryDirectory() as checkpoints:
        log = EvaluationLog()
        train(model, loader, config, Path(checkpoints), log, CPU, evaluator=evaluator)
    return RunResult(
        method=method,
        backbone=backbone,
        epochs=epochs,
        random_init_top1=random_init,
        knn_per_epoch=log.knn,
        epoch_seconds=log.epoch_seconds,
        eval_seconds=log.eval_seconds,
    )


def run_lightly(args: argparse.Namespace) -> RunResult:
    if not PEER_PYTHON.exists():
        raise SystemExit(f"{PEER_PYTHON} missing: run bench/setup_peer_env.sh first")
    command = [
        str(PEER_PYTHON),
        str(ROOT / "bench" / "quality_lightly.py"),
        *("--data", str(args.data), "--cache", str(args.cache)),
        *("--train-per-class", str(args.train_per_class)),
        *("--eval-per-class", str(args.eval_per_class)),
        *("--image-size", str(args.image_size), "--backbone", args.backbone),
        *("--batch-size", str(args.batch_size), "--epochs", str(args.epochs)),
        *("--seed", str(args.seed), "--threads", str(args.threads)),
        *("--peer-workers", str(args.peer_workers)),
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return RunResult.from_json(done.stdout.strip().splitlines()[-1])


def equal_time_epochs(ours: RunResult, peer: RunResult) -> int:
    """How many of our epochs fit in the time the peer needs for its epochs.

    Other processes share the machine, so each side's speed is its fastest epoch (the one
    least disturbed), not its mean.
    """
    budget = peer.epochs * peer.fastest_epoch_seconds
    return max(1, int(budget // ours.fastest_epoch_seconds))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="CIFAR-10 train/ folder")
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / "out" / "cache")
    parser.add_argument("--train-per-class", type=int, default=500)
    parser.add_argument("--eval-per-class", type=int, default=500)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--backbone", default="tiny_cnn")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--peer-workers", type=int, default=1, help="lightly DataLoader workers")
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--skip-peer", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    out = ROOT / "bench" / "out" / f"quality-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    data = load_bench_data(
        args.data,
        args.cache,
        train_per_class=args.train_per_class,
        eval_per_class=args.eval_per_class,
        image_size=args.image_size,
    )
    runs: list[RunResult] = []

    def record(run: RunResult) -> RunResult:
        runs.append(run)
        with out.open("a") as handle:
            handle.write(run.to_json() + "\n")
        print(table([run]).splitlines()[-1], file=sys.stderr, flush=True)
        return run

    ours = record(run_ours("simclr", data, args, args.epochs))
    if not args.skip_peer:
        peer = record(run_lightly(args))
        epochs = equal_time_epochs(ours, peer)
        if epochs != args.epochs:
            equal = run_ours("simclr", data, args, epochs)
            record(replace(equal, method="simclr (equal wall-clock to lightly)"))
    for method in args.methods:
        if method != "simclr":
            record(run_ours(method, data, args, args.epochs))

    print(
        f"CIFAR-10 {args.train_per_class}/class train, {args.eval_per_class}/class held out, "
        f"{args.image_size}px, batch {args.batch_size}, {args.epochs} epochs, "
        f"{args.threads} CPU threads; kNN k=200 t=0.1; results in {out}"
    )
    print(table(runs))


if __name__ == "__main__":
    main()
