"""lightly's split BatchNorm in one of our backbones; runs inside ``bench/.venv-peer``.

lightly's MoCo on CIFAR-10 builds its ResNet with ``num_splits=8``: every BatchNorm2d
is a ``lightly.models.batchnorm.SplitBatchNorm``, which normalises each of 8 interleaved
sub-batches (samples k, k + 8, k + 16, ...) with its own statistics, as 8 GPUs would.
Together with the key batch shuffle this keeps a query and its key out of the same
normalisation group, so BatchNorm cannot leak which key is the positive. Our backbones
come from ``ssl_engine.backbones``; this swaps their BatchNorm2d layers for lightly's
SplitBatchNorm in place, keeping the weights, so the network starts where ours does.
"""

from __future__ import annotations

import torch
from lightly.models.batchnorm import SplitBatchNorm
from torch import nn

MOCO_SPLITS = 8  # lightly's CIFAR-10 benchmark: num_splits = 0 if sync_batchnorm else 8


def split_batchnorm(module: nn.Module, num_splits: int) -> nn.Module:
    """``module`` with each nn.BatchNorm2d replaced by an equivalent SplitBatchNorm."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d) and not isinstance(child, SplitBatchNorm):
            setattr(module, name, _split(child, num_splits))
        else:
            split_batchnorm(child, num_splits)
    return module


def _split(norm: nn.BatchNorm2d, num_splits: int) -> SplitBatchNorm:
    if not (norm.affine and norm.track_running_stats):
        raise ValueError(f"SplitBatchNorm needs an affine BatchNorm with running stats: {norm}")
    split = SplitBatchNorm(norm.num_features, num_splits, eps=norm.eps, momentum=norm.momentum)
    with torch.no_grad():
        split.weight.copy_(norm.weight)
        split.bias.copy_(norm.bias)
        # one copy of the running statistics per split: (C * num_splits,)
        split.running_mean.copy_(norm.running_mean.repeat(num_splits))  # type: ignore[union-attr]
        split.running_var.copy_(norm.running_var.repeat(num_splits))  # type: ignore[union-attr]
        split.num_batches_tracked.copy_(norm.num_batches_tracked)
    split.train(norm.training)
    return split
