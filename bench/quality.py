"""Representation quality of every registered method on CIFAR-10, next to lightly's.

    .venv/bin/python bench/quality.py --data /tmp/cifar10/train        (see bench/RESULTS.md)
    .venv/bin/python bench/quality.py --data /tmp/cifar10/train --methods moco_v2 byol \
        --seeds 0 1                      (a per-method peer table may take several runs)

Every method of ``ssl_engine.methods.registry`` named in ``--methods`` trains through
the product's own trainer (its config built by ``TrainConfig.with_options``, as a job's
is) with the product's online kNN evaluator (weighted kNN, cosine, k = 200, t = 0.1, the
protocol of lightly's benchmarks) on the same training subset, at the same batch size and
epochs; the held-out images are the product's split (500 per class). Before training,
the same evaluator scores the randomly initialised backbone: the baseline a method has
to beat, also printed per backbone and seed in a table of its own.

For each method lightly 1.6 implements (``quality_lightly_names.LIGHTLY_METHODS``:
SimCLR, MoCo v2, BYOL, SimSiam, Barlow Twins, VICReg, SwAV, MAE; ``--peer-methods``
narrows them, ``--skip-peer`` drops them all), lightly's implementation runs right after
ours (``bench/quality_lightly.py`` in ``bench/.venv-peer``, a subprocess) with lightly's
own recipe: its heads, loss, augmentation, optimizer, learning rate under its rule
(base x batch / 128) and schedule, from its CIFAR-10 benchmark (VICReg and MAE: its
Imagenette benchmark). Held equal: the backbone and its initial weights (the same seed),
the images, batch size, epochs, seed and the evaluation. With several ``--seeds`` every
method runs once per seed on each side; the table then adds a mean-over-seeds row per
method and side. ``--training`` and ``--hyperparameters`` (JSON) override our runs only,
and the row's label shows the override. When simclr runs with its peer, one more row
(first seed only) compares at equal wall-clock: our SimCLR gets as many epochs as fit in
the training time lightly's SimCLR needs for its epochs (each side's speed taken from its
fastest epoch, since other processes share the machine).

A method that needs a parent model (ClusterFit) gets one as a job would: the
``--parent-method`` (SimCLR by default) trains first on the same backbone, data, epochs
and seed, is reported as a row of its own ("simclr (parent of clusterfit)"), and is handed
to the method before training, so the table compares the child with its parent.

``--device cuda`` runs both sides on a GPU (``bench/gpu_quality.sh`` does that on a lent
machine, with ``--peer-python`` naming the interpreter that has lightly there).

Runs go one after the other (never concurrently, so timings are not shared), and each
result is appended to ``bench/out/quality-<time>.jsonl`` as it lands. Prints the table,
the random-init baselines and each lightly row's recipe.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from quality_data import BenchData, load_bench_data
from quality_lightly_names import LIGHTLY_METHODS
from quality_report import RunResult, baseline_table, table

from ssl_engine.data.loader import BatchLoader
from ssl_engine.evaluation.online import KnnEvaluator
from ssl_engine.factory import build_method
from ssl_engine.methods.base import Method, ParentRole
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


def overrides_label(hyperparameters: Mapping[str, Any], training: Mapping[str, Any]) -> str:
    """`` [hp: temperature=0.2; training: optimizer=lars, lr=0.3]``, or "" without overrides."""

    def pairs(values: Mapping[str, Any]) -> str:
        return ", ".join(
            f"{key}={value if isinstance(value, str) else json.dumps(value)}"
            for key, value in values.items()
        )

    parts = [f"hp: {pairs(hyperparameters)}"] if hyperparameters else []
    parts += [f"training: {pairs(training)}"] if training else []
    return f" [{'; '.join(parts)}]" if parts else ""


def run_ours(
    method: str,
    data: BenchData,
    args: argparse.Namespace,
    epochs: int,
    seed: int,
    parent: Method | None = None,
) -> tuple[RunResult, Method]:
    """Train ``method`` through the product's trainer (started from ``parent`` when given,
    as a job naming a parent model is); its result and the trained model."""
    backbone = backbone_for(method, args.backbone)
    hyperparameters = args.hyperparameters.get(method, {})
    training = args.training.get(method, {})
    torch.manual_seed(seed)  # the worker seeds the same way before building
    model = build_method(Recipe(method, backbone, args.image_size, hyperparameters))
    if parent is not None:
        model.start_from_parent(parent)
    evaluator = KnnEvaluator(data.train, data.held_out, num_classes=len(data.classes))
    random_init = evaluator.evaluate(model, args.device)["knn_top1"]
    loader = BatchLoader(data.train.images, None, args.batch_size, args.device, seed)
    # as the worker builds a job's config: the options are validated like a job's
    config = TrainConfig.with_options(
        training, epochs=epochs, batch_size=args.batch_size, seed=seed
    )
    with tempfile.TemporaryDirectory() as checkpoints:
        log = EvaluationLog()
        train(model, loader, config, Path(checkpoints), log, args.device, evaluator=evaluator)
    result = RunResult(
        method=method + overrides_label(hyperparameters, training),
        backbone=backbone,
        epochs=epochs,
        random_init_top1=random_init,
        knn_per_epoch=log.knn,
        epoch_seconds=log.epoch_seconds,
        eval_seconds=log.eval_seconds,
        seed=seed,
    )
    return result, model


def run_lightly(method: str, args: argparse.Namespace, seed: int) -> RunResult:
    """lightly's ``method`` with lightly's recipe, on the backbone our run of it uses."""
    if shutil.which(args.peer_python) is None:
        raise SystemExit(f"{args.peer_python} missing: run bench/setup_peer_env.sh first")
    command = [
        args.peer_python,
        str(ROOT / "bench" / "quality_lightly.py"),
        *("--method", method, "--backbone", backbone_for(method, args.backbone)),
        *("--data", str(args.data), "--cache", str(args.cache)),
        *("--train-per-class", str(args.train_per_class)),
        *("--eval-per-class", str(args.eval_per_class)),
        *("--image-size", str(args.image_size)),
        *("--batch-size", str(args.batch_size), "--epochs", str(args.epochs)),
        *("--seed", str(seed), "--threads", str(args.threads)),
        *("--peer-workers", str(args.peer_workers), "--device", str(args.device)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"lightly's {method} (seed {seed}) failed: exit {done.returncode}")
    return RunResult.from_json(done.stdout.strip().splitlines()[-1])


def equal_time_epochs(ours: RunResult, peer: RunResult) -> int:
    """How many of our epochs fit in the time the peer needs for its epochs.

    Other processes share the machine, so each side's speed is its fastest epoch (the one
    least disturbed), not its mean.
    """
    budget = peer.epochs * peer.fastest_epoch_seconds
    return max(1, int(budget // ours.fastest_epoch_seconds))


def per_method(text: str, methods: list[str], flag: str) -> dict[str, dict[str, Any]]:
    """A JSON object of overrides for every method, or one keyed by method name."""
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise SystemExit(f"{flag}: not JSON: {error}") from error
    if not isinstance(values, dict):
        raise SystemExit(f"{flag}: expected a JSON object, got {text!r}")
    keyed = bool(values) and all(
        key in METHODS and isinstance(value, dict) for key, value in values.items()
    )
    return {method: values.get(method, {}) if keyed else values for method in methods}


def check_overrides(args: argparse.Namespace) -> None:
    """Fail before any run, with the product's own message, on an override it rejects."""
    for method in args.methods:
        try:
            METHODS[method].hyperparameters_model.model_validate(args.hyperparameters[method])
            TrainConfig.with_options(
                args.training[method], epochs=args.epochs, batch_size=args.batch_size
            )
        except ValueError as error:  # pydantic's ValidationError is a ValueError
            raise SystemExit(f"{method}: {error}") from error


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
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed")
    parser.add_argument("--device", type=torch.device, default=CPU, help="cpu | cuda | ...")
    parser.add_argument(
        "--peer-python",
        default=str(PEER_PYTHON),
        help="the Python that has lightly (default: bench/.venv-peer's)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--peer-workers", type=int, default=1, help="lightly DataLoader workers")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument(
        "--peer-methods",
        nargs="*",
        choices=LIGHTLY_METHODS,
        help="methods of --methods to run lightly's implementation of too "
        "(default: every one lightly implements)",
    )
    parser.add_argument("--skip-peer", action="store_true", help="run none of lightly's")
    parser.add_argument(
        "--parent-method",
        choices=list(METHODS),
        default="simclr",
        help="the parent a method that needs one (ClusterFit) starts from: trained first, "
        "with the same backbone, data, epochs and seed, and reported as a row of its own",
    )
    parser.add_argument(
        "--no-equal-time",
        dest="equal_time",
        action="store_false",
        help="skip the extra SimCLR run at lightly's wall-clock",
    )
    parser.add_argument(
        "--training",
        default="{}",
        help="training options (TrainConfig user options) for OUR runs, as a JSON object, "
        'e.g. {"optimizer": "lars", "lr": 0.3}; or one such object per method name',
    )
    parser.add_argument(
        "--hyperparameters",
        default="{}",
        help='method hyperparameters for OUR runs, as a JSON object, e.g. {"temperature": 0.2}; '
        "or one such object per method name",
    )
    args = parser.parse_args()
    if args.peer_methods is None:
        args.peer_methods = [m for m in args.methods if m in LIGHTLY_METHODS]
    stray = sorted(set(args.peer_methods) - set(args.methods))
    if stray:
        parser.error(f"--peer-methods {stray} are not among --methods")
    if args.skip_peer:
        args.peer_methods = []
    args.training = per_method(args.training, args.methods, "--training")
    args.hyperparameters = per_method(args.hyperparameters, args.methods, "--hyperparameters")
    check_overrides(args)
    return args


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

    for method in args.methods:
        for seed in args.seeds:  # one side after the other, never concurrently
            parent = None
            if METHODS[method].parent_role is ParentRole.TEACHER:  # ClusterFit: parent first
                parent_run, parent = run_ours(args.parent_method, data, args, args.epochs, seed)
                record(replace(parent_run, method=f"{parent_run.method} (parent of {method})"))
            ours = record(run_ours(method, data, args, args.epochs, seed, parent)[0])
            if method not in args.peer_methods:
                continue
            peer = record(run_lightly(method, args, seed))
            if method == "simclr" and seed == args.seeds[0] and args.equal_time:
                epochs = equal_time_epochs(ours, peer)
                if epochs != args.epochs:
                    equal, _ = run_ours(method, data, args, epochs, seed)
                    label = f"{equal.method} (equal wall-clock to lightly)"
                    record(replace(equal, method=label))

    print(
        f"CIFAR-10 {args.train_per_class}/class train, {args.eval_per_class}/class held out, "
        f"{args.image_size}px, batch {args.batch_size}, {args.epochs} epochs, "
        f"seeds {' '.join(map(str, args.seeds))}, {args.threads} CPU threads; "
        f"kNN k=200 t=0.1; results in {out}"
    )
    print(table(runs))
    print()
    print(baseline_table(runs))
    notes = {run.method: run.note for run in runs if run.note}
    for method, note in notes.items():
        print(f"* {method}: {note}")


if __name__ == "__main__":
    main()
