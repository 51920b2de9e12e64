"""lightly's SimCLR on the benchmark data; runs inside ``bench/.venv-peer`` (lightly installed).

``bench/quality.py`` starts this script as a subprocess with the same arguments it uses
for its own runs and reads one JSON line (``RunResult``) from stdout. What is lightly's
here: the augmentation pipeline (``SimCLRTransform``, per image on PIL images, in
DataLoader workers), the projection head (``SimCLRProjectionHead``), the loss
(``NTXentLoss``), the warm-up + cosine schedule (``CosineWarmupScheduler``) and the
no-decay parameter split (``get_weight_decay_parameters``), wired as in lightly's own
CIFAR-10 benchmark. What is held equal to ours: the backbone (built by
``ssl_engine.backbones`` under the same seed, so the initial weights are identical), batch
size, epochs, augmentation strengths (crop scale (0.08, 1), flip 0.5, jitter 0.8 with
0.4/0.4/0.4/0.1, grayscale 0.2, no blur at 32 px), temperature 0.5, projection 128, SGD
with momentum 0.9, lr 0.06 x batch / 256, weight decay 5e-4, one warm-up epoch, and
the evaluation (the same kNN evaluator on the same held-out images).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead
from lightly.models.utils import get_weight_decay_parameters
from lightly.transforms import SimCLRTransform
from lightly.utils.scheduler import CosineWarmupScheduler
from PIL import Image
from quality_data import load_bench_data
from quality_report import RunResult
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from ssl_engine.backbones import build_backbone
from ssl_engine.evaluation.online import KnnEvaluator
from ssl_engine.methods.base import Method

CPU = torch.device("cpu")


class PilImages(Dataset[list[Tensor]]):
    """Rows of a (N, 3, S, S) uint8 tensor as PIL images through lightly's transform."""

    def __init__(self, images: Tensor, transform: SimCLRTransform) -> None:
        self.pixels = np.ascontiguousarray(images.permute(0, 2, 3, 1).numpy())  # (N, S, S, 3)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, index: int) -> list[Tensor]:
        return self.transform(Image.fromarray(self.pixels[index]))  # two (3, S, S) views


class Encoder(Method):
    """Adapts the peer's backbone to the evaluator's ``embed``."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def embed(self, x: Tensor) -> Tensor:
        return self.backbone(x)  # (B, D)


def run(args: argparse.Namespace) -> RunResult:
    torch.set_num_threads(args.threads)
    data = load_bench_data(
        args.data,
        args.cache,
        train_per_class=args.train_per_class,
        eval_per_class=args.eval_per_class,
        image_size=args.image_size,
    )
    evaluator = KnnEvaluator(data.train, data.held_out, num_classes=len(data.classes))
    torch.manual_seed(args.seed)  # as build_method after the same seed: same backbone weights
    backbone = build_backbone(args.backbone, args.image_size)
    head = SimCLRProjectionHead(backbone.out_dim, backbone.out_dim, 128)
    encoder = Encoder(backbone)
    random_init = evaluator.evaluate(encoder, CPU)["knn_top1"]

    transform = SimCLRTransform(
        input_size=args.image_size, cj_strength=0.5, gaussian_blur=0.0, normalize=None
    )
    loader = DataLoader(
        PilImages(data.train.images, transform),
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=args.peer_workers,
        persistent_workers=args.peer_workers > 0,
        generator=torch.Generator().manual_seed(args.seed),
    )
    decayed, plain = get_weight_decay_parameters([backbone, head])
    optimizer = torch.optim.SGD(
        [{"params": decayed}, {"params": plain, "weight_decay": 0.0}],
        lr=0.06 * args.batch_size / 256,
        momentum=0.9,
        weight_decay=5e-4,
    )
    steps = len(loader) * args.epochs
    scheduler = CosineWarmupScheduler(optimizer, warmup_epochs=len(loader), max_epochs=steps)
    criterion = NTXentLoss(temperature=0.5)

    knn, epoch_seconds, eval_seconds = [], [], 0.0
    for _ in range(args.epochs):
        started = time.perf_counter()
        backbone.train()
        head.train()
        for views in loader:
            z = head(backbone(torch.cat(views)))  # (2B, 128)
            z0, z1 = z.chunk(2)
            loss = criterion(z0, z1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
        epoch_seconds.append(time.perf_counter() - started)
        metrics = evaluator.evaluate(encoder, CPU)
        knn.append(metrics["knn_top1"])
        eval_seconds += metrics["knn_seconds"]
    return RunResult(
        method="simclr (lightly)",
        backbone=args.backbone,
        epochs=args.epochs,
        random_init_top1=random_init,
        knn_per_epoch=knn,
        epoch_seconds=epoch_seconds,
        eval_seconds=eval_seconds,
        note=f"lightly pipeline, {args.peer_workers} DataLoader workers",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--train-per-class", type=int, required=True)
    parser.add_argument("--eval-per-class", type=int, required=True)
    parser.add_argument("--image-size", type=int, required=True)
    parser.add_argument("--backbone", required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--peer-workers", type=int, required=True)
    print(run(parser.parse_args()).to_json(), flush=True)


if __name__ == "__main__":
    main()
