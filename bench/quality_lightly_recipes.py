"""lightly's own training recipe for each method; runs inside ``bench/.venv-peer``.

From lightly's CIFAR-10 benchmark (``docs/source/getting_started/benchmarks/
cifar10_benchmark.py``): the augmentation (lightly's transform classes at 32 px with the
benchmark's arguments; colour jitter strength 0.5 where it sets one, no blur), the
optimizer, its rate under lightly's rule ``lr = base * batch_size / 128`` (SGD 0.06,
momentum 0.9, weight decay 5e-4 on every parameter; SimSiam 0.06 unscaled; SwAV Adam
1e-3, weight decay 1e-6) and the schedule, ``CosineAnnealingLR(optimizer, epochs)``
stepped once per epoch, no warm-up. VICReg and MAE are not in that benchmark: they take
lightly's Imagenette benchmark recipe (``imagenette_benchmark.py``: ``lr = base *
batch_size / 256``; VICReg LARS 0.3, MAE AdamW 1.5e-4), whose ``CosineWarmupScheduler``
warms up for 20 of its 200 epochs (40 of 800), stepped per epoch. lightly's scheduler
refuses a warm-up longer than the run, so a run under 200 epochs warms up for the same
share, a tenth of it, and the scheduler steps per batch, since that share is then a
fraction of an epoch (from 200 epochs on: the benchmark's 20 or 40 epochs).

BYOL and Barlow Twins use the benchmark's current ``byol_transform`` (its published
numbers predate that change and used the SimCLR transform). Every transform is built
with ``normalize=None``: our backbones normalise their input themselves (ImageNet
statistics, as lightly's transforms would).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from lightly.transforms import (
    BYOLTransform,
    BYOLView1Transform,
    BYOLView2Transform,
    MAETransform,
    SimCLRTransform,
    SimSiamTransform,
    SwaVTransform,
    VICRegTransform,
)
from lightly.utils.lars import LARS
from lightly.utils.scheduler import CosineWarmupScheduler
from PIL.Image import Image
from quality_lightly_mae import MAE
from quality_lightly_models import (
    BYOL,
    BarlowTwins,
    LightlyModel,
    MoCo,
    SimCLR,
    SimSiam,
    SwaV,
    VICReg,
)
from quality_lightly_names import LIGHTLY_METHODS
from quality_lightly_splitbn import MOCO_SPLITS
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler

from ssl_engine.backbones import build_backbone
from ssl_engine.vit import build_vit_encoder

# lightly's transforms take a PIL image (or a tensor) and, ending in ToTensor, give views
Transform = Callable[[Image], list[Tensor] | list[Image]]
# normalize=None (see above); a mapping, since lightly annotates MAETransform's
# argument as a dict although it accepts None as its other transforms do
NO_NORMALIZE: dict[str, Any] = {"normalize": None}
Parameters = list[nn.Parameter]


@dataclass(frozen=True)
class Schedule:
    scheduler: LRScheduler
    per_step: bool  # stepped after every optimizer step; else after every epoch


@dataclass(frozen=True)
class LightlyRecipe:
    backbone: Callable[[str, int], nn.Module]  # ours, by name and image size
    model: Callable[[nn.Module], LightlyModel]
    transform: Callable[[int], Transform]  # by image size
    optimizer: Callable[[Parameters, int], Optimizer]  # by batch size
    schedule: Callable[[Optimizer, int, int], Schedule]  # by epochs, steps per epoch
    note: str
    batch_multiple: int = 1  # the batch size must be a multiple (split BatchNorm)


def sgd_cifar(base_lr: float, scaled: bool = True) -> Callable[[Parameters, int], Optimizer]:
    """SGD, momentum 0.9, weight decay 5e-4, lr base x batch / 128 (or base unscaled)."""

    def build(params: Parameters, batch_size: int) -> Optimizer:
        lr = base_lr * batch_size / 128 if scaled else base_lr
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)

    return build


def adam_swav(params: Parameters, batch_size: int) -> Optimizer:
    return torch.optim.Adam(params, lr=1e-3 * batch_size / 128, weight_decay=1e-6)


def lars_vicreg(params: Parameters, batch_size: int) -> Optimizer:
    # lightly's LARS, trust coefficient at its default 0.001
    return LARS(params, lr=0.3 * batch_size / 256, weight_decay=1e-4, momentum=0.9)


def adamw_mae(params: Parameters, batch_size: int) -> Optimizer:
    return torch.optim.AdamW(
        params, lr=1.5e-4 * batch_size / 256, weight_decay=0.05, betas=(0.9, 0.95)
    )


def cosine_per_epoch(optimizer: Optimizer, epochs: int, steps_per_epoch: int) -> Schedule:
    """The CIFAR-10 benchmark's schedule: cosine over the epochs, stepped per epoch."""
    return Schedule(CosineAnnealingLR(optimizer, epochs), per_step=False)


def imagenette_warmup_epochs(epochs: int) -> float:
    """Imagenette's ``40 if max_epochs >= 800 else 20``; a tenth of a run under 200."""
    return (40 if epochs >= 800 else 20) * min(1.0, epochs / 200)


def warmup_cosine_per_step(optimizer: Optimizer, epochs: int, steps_per_epoch: int) -> Schedule:
    """The Imagenette benchmark's CosineWarmupScheduler (linear from 0, cosine to 0.001
    of the base rate), over batches, warming up for ``imagenette_warmup_epochs``."""
    warmup_steps = round(imagenette_warmup_epochs(epochs) * steps_per_epoch)
    scheduler = CosineWarmupScheduler(optimizer, warmup_steps, epochs * steps_per_epoch)
    return Schedule(scheduler, per_step=True)


def simclr_transform(size: int) -> Transform:
    return SimCLRTransform(input_size=size, cj_strength=0.5, gaussian_blur=0.0, **NO_NORMALIZE)


def byol_transform(size: int) -> Transform:
    """The benchmark's BYOL views (view 2 solarises with p 0.2), both without blur."""
    return BYOLTransform(
        view_1_transform=BYOLView1Transform(input_size=size, gaussian_blur=0.0, **NO_NORMALIZE),
        view_2_transform=BYOLView2Transform(input_size=size, gaussian_blur=0.0, **NO_NORMALIZE),
    )


def simsiam_transform(size: int) -> Transform:
    return SimSiamTransform(input_size=size, gaussian_blur=0.0, **NO_NORMALIZE)


def swav_transform(size: int) -> Transform:
    # The benchmark passes crop_min_scales=[0.14] alone, which lightly 1.6 rejects (the
    # default crop_max_scales has two entries); the one crop size gets its (0.14, 1.0)
    # range explicitly, the crop the benchmark's published numbers were made with.
    # (lightly annotates the crop arguments as pairs, large and small crops; one works)
    crops: dict[str, Any] = {
        "crop_sizes": (size,),
        "crop_counts": (2,),
        "crop_min_scales": (0.14,),
        "crop_max_scales": (1.0,),
    }
    return SwaVTransform(**crops, cj_strength=0.5, gaussian_blur=0.0, **NO_NORMALIZE)


def vicreg_transform(size: int) -> Transform:
    # Imagenette's VICRegTransform(input_size, cj_strength=0.5); blur off at 32 px, as
    # lightly's CIFAR-10 benchmark turns it off for every method.
    return VICRegTransform(input_size=size, cj_strength=0.5, gaussian_blur=0.0, **NO_NORMALIZE)


def mae_transform(size: int) -> Transform:
    # Imagenette's MAETransform(): random resized crop (scale 0.2 to 1) and flip
    return MAETransform(input_size=size, **NO_NORMALIZE)


CIFAR = "lightly CIFAR-10 benchmark"
SGD_CIFAR = "SGD lr 0.06 x batch/128, momentum 0.9, wd 5e-4; cosine per epoch, no warm-up"
RECIPES: dict[str, LightlyRecipe] = {
    "simclr": LightlyRecipe(
        backbone=build_backbone,
        model=SimCLR,
        transform=simclr_transform,
        optimizer=sgd_cifar(0.06),
        schedule=cosine_per_epoch,
        note=f"{CIFAR}: SimCLRTransform(cj 0.5, no blur), SimCLRProjectionHead(D,512,128), "
        f"NTXentLoss(t 0.5), {SGD_CIFAR}",
    ),
    "moco_v2": LightlyRecipe(
        backbone=build_backbone,
        model=MoCo,
        transform=simclr_transform,
        optimizer=sgd_cifar(0.06),
        schedule=cosine_per_epoch,
        note=f"{CIFAR}: SimCLRTransform(cj 0.5, no blur), SplitBatchNorm x{MOCO_SPLITS} + "
        "key batch shuffle, MoCoProjectionHead(D,512,128), EMA 0.99, NTXentLoss(t 0.1, "
        f"bank 4096), symmetric, {SGD_CIFAR}",
        batch_multiple=MOCO_SPLITS,
    ),
    "byol": LightlyRecipe(
        backbone=build_backbone,
        model=BYOL,
        transform=byol_transform,
        optimizer=sgd_cifar(0.06),
        schedule=cosine_per_epoch,
        note=f"{CIFAR}: BYOLTransform(no blur), BYOLProjectionHead(D,1024,256) + "
        f"BYOLPredictionHead(256,1024,256), EMA 0.99, NegativeCosineSimilarity, {SGD_CIFAR}",
    ),
    "simsiam": LightlyRecipe(
        backbone=build_backbone,
        model=SimSiam,
        transform=simsiam_transform,
        optimizer=sgd_cifar(0.06, scaled=False),
        schedule=cosine_per_epoch,
        note=f"{CIFAR}: SimSiamTransform(no blur), projector D-2048-BN-ReLU-2048-BN + "
        "SimSiamPredictionHead(2048,512,2048), NegativeCosineSimilarity, SGD lr 0.06 "
        "(not scaled), momentum 0.9, wd 5e-4; cosine per epoch, no warm-up",
    ),
    "barlow_twins": LightlyRecipe(
        backbone=build_backbone,
        model=BarlowTwins,
        transform=byol_transform,
        optimizer=sgd_cifar(0.06),
        schedule=cosine_per_epoch,
        note=f"{CIFAR}: BYOLTransform(no blur), projector D-2048-BN-ReLU-2048, "
        f"BarlowTwinsLoss(lambda 5e-3), {SGD_CIFAR}",
    ),
    "vicreg": LightlyRecipe(
        backbone=build_backbone,
        model=VICReg,
        transform=vicreg_transform,
        optimizer=lars_vicreg,
        schedule=warmup_cosine_per_step,
        note="lightly Imagenette benchmark (no VICReg in its CIFAR-10 one): "
        "VICRegTransform(cj 0.5, no blur), BarlowTwinsProjectionHead(D,2048,2048), "
        "VICRegLoss(25/25/1), LARS lr 0.3 x batch/256, momentum 0.9, wd 1e-4, trust 1e-3; "
        "warm-up (a tenth of a run under 200 epochs) + cosine, per batch",
    ),
    "swav": LightlyRecipe(
        backbone=build_backbone,
        model=SwaV,
        transform=swav_transform,
        optimizer=adam_swav,
        schedule=cosine_per_epoch,
        note=f"{CIFAR}: SwaVTransform(2 crops, scale 0.14-1, cj 0.5, no blur), "
        "SwaVProjectionHead(D,512,128) + SwaVPrototypes(128,512), SwaVLoss, no queue, "
        "Adam lr 1e-3 x batch/128, wd 1e-6; cosine per epoch, no warm-up",
    ),
    "mae": LightlyRecipe(
        backbone=build_vit_encoder,
        model=MAE,  # takes our ViTEncoder
        transform=mae_transform,
        optimizer=adamw_mae,
        schedule=warmup_cosine_per_step,
        note="lightly Imagenette benchmark (no MAE in its CIFAR-10 one): MAETransform "
        "(crop 0.2-1, flip), lightly's torchvision MAEDecoder (512 wide, 1 block, 16 heads; "
        "no timm), mask 0.75, MSE on normalised pixels, AdamW lr 1.5e-4 x batch/256, "
        "betas (0.9, 0.95), wd 0.05; warm-up (a tenth of a run under 200 epochs) + cosine, "
        "per batch",
    ),
}
assert tuple(RECIPES) == LIGHTLY_METHODS, "quality_lightly_names lists the recipes"
