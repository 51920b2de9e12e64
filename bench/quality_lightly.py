"""lightly's implementation of one method, with lightly's own recipe, on the benchmark data.

Runs inside ``bench/.venv-peer`` (lightly 1.6 installed, this project installed
editable). ``bench/quality.py`` starts it as a subprocess, one method and seed at a
time, and reads one JSON line (``RunResult``) from stdout:

    bench/.venv-peer/bin/python bench/quality_lightly.py --method moco_v2 --data ... (all flags)

What is lightly's: the method (heads, loss, momentum encoder, memory bank, split
BatchNorm and key shuffle: ``quality_lightly_models.py``, ``quality_lightly_mae.py``,
``quality_lightly_splitbn.py``) and its whole training recipe from lightly's CIFAR-10
benchmark (augmentation, optimizer, rate under lightly's rule ``base x batch / 128``,
schedule: ``quality_lightly_recipes.py``; VICReg and MAE from lightly's Imagenette
benchmark, which has them), run as lightly's benchmark runs it: per-image PIL
augmentation in DataLoader workers, shuffled batches, the last partial batch dropped,
fp32. What is held equal to our run of the same method: the backbone (built by
``ssl_engine`` after the same ``torch.manual_seed``, so the initial weights are
identical; MAE's is our ViT encoder), the training images, batch size, epochs, seed, and
the evaluation: our ``KnnEvaluator`` on the same held-out images after every epoch,
scoring the method's ``embed`` as our method of the same name defines it. The row's
``method`` reads e.g. "moco_v2 (lightly)" and its note names the recipe.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import cast

import numpy as np
import torch
from PIL import Image
from quality_data import load_bench_data
from quality_lightly_models import LightlyModel
from quality_lightly_names import LIGHTLY_METHODS
from quality_lightly_recipes import RECIPES, Transform
from quality_report import RunResult
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ssl_engine.evaluation.online import KnnEvaluator
from ssl_engine.methods.base import Method

CPU = torch.device("cpu")


class PilImages(Dataset[list[Tensor]]):
    """Rows of a (N, 3, S, S) uint8 tensor as PIL images through lightly's transform."""

    def __init__(self, images: Tensor, transform: Transform) -> None:
        self.pixels = np.ascontiguousarray(images.permute(0, 2, 3, 1).numpy())  # (N, S, S, 3)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, index: int) -> list[Tensor]:
        views = self.transform(Image.fromarray(self.pixels[index]))
        return cast(list[Tensor], views)  # each (3, S, S): lightly's views end in ToTensor


class Evaluated(Method):
    """Hands a lightly model to our evaluator, which calls ``embed`` in eval mode."""

    def __init__(self, model: LightlyModel) -> None:
        super().__init__()
        self.model = model

    def embed(self, x: Tensor) -> Tensor:
        return self.model.embed(x)  # (B, D)


def run(args: argparse.Namespace) -> RunResult:
    recipe = RECIPES[args.method]
    if args.batch_size % recipe.batch_multiple:
        raise SystemExit(
            f"lightly's {args.method} needs a batch size divisible by {recipe.batch_multiple}"
        )
    torch.set_num_threads(args.threads)
    data = load_bench_data(
        args.data,
        args.cache,
        train_per_class=args.train_per_class,
        eval_per_class=args.eval_per_class,
        image_size=args.image_size,
    )
    evaluator = KnnEvaluator(data.train, data.held_out, num_classes=len(data.classes))
    torch.manual_seed(args.seed)  # as our run before build_method: same backbone weights
    model = recipe.model(recipe.backbone(args.backbone, args.image_size))
    evaluated = Evaluated(model)
    model.to(args.device)
    random_init = evaluator.evaluate(evaluated, args.device)["knn_top1"]

    loader = DataLoader(
        PilImages(data.train.images, recipe.transform(args.image_size)),
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=args.peer_workers,
        persistent_workers=args.peer_workers > 0,
        generator=torch.Generator().manual_seed(args.seed),
    )
    if len(loader) == 0:
        raise SystemExit(f"{len(data.train.images)} images make no batch of {args.batch_size}")
    optimizer = recipe.optimizer(model.optimized(), args.batch_size)
    schedule = recipe.schedule(optimizer, args.epochs, len(loader))

    knn, epoch_seconds, eval_seconds = [], [], 0.0
    for _ in range(args.epochs):
        started = time.perf_counter()
        model.train()
        for views in loader:
            loss = model.loss([view.to(args.device, non_blocking=True) for view in views])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if schedule.per_step:
                schedule.scheduler.step()
        if not schedule.per_step:
            schedule.scheduler.step()
        epoch_seconds.append(time.perf_counter() - started)
        metrics = evaluator.evaluate(evaluated, args.device)
        knn.append(metrics["knn_top1"])
        eval_seconds += metrics["knn_seconds"]
    return RunResult(
        method=f"{args.method} (lightly)",
        backbone=args.backbone,
        epochs=args.epochs,
        random_init_top1=random_init,
        knn_per_epoch=knn,
        epoch_seconds=epoch_seconds,
        eval_seconds=eval_seconds,
        note=f"{recipe.note}; {args.peer_workers} DataLoader workers",
        seed=args.seed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=LIGHTLY_METHODS, default="simclr")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--train-per-class", type=int, required=True)
    parser.add_argument("--eval-per-class", type=int, required=True)
    parser.add_argument("--image-size", type=int, required=True)
    parser.add_argument("--backbone", required=True, help="ours, as our run of the method")
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--peer-workers", type=int, required=True)
    parser.add_argument("--device", type=torch.device, default=CPU)
    print(run(parser.parse_args()).to_json(), flush=True)


if __name__ == "__main__":
    main()
