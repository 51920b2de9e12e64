"""Split BatchNorm and batch shuffling: MoCo's guard against BatchNorm leaking the positive.

He et al., "Momentum Contrast for Unsupervised Visual Representation Learning", CVPR 2020,
section 3.3 ("Shuffling BN"): when a query and its key are normalised with statistics of
the same samples, the batch statistics carry information that lets the model recognise
the positive without learning a good representation. MoCo computes keys on several GPUs
after shuffling the samples across them, so each key is normalised with the statistics
of a random subset of the batch. ``SplitBatchNorm2d`` reproduces the several GPUs inside
one process: in training it normalises each of ``num_splits`` groups of samples with that
group's own statistics; ``shuffled_forward`` shuffles the batch before and restores its
order after, so the groups are random.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SplitBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are per group of samples, not per batch.

    Group j holds samples j, j + s, j + 2s, ... of a batch of N = s * m samples
    (s = ``num_splits``). Weight and bias are shared by the groups; the running statistics
    are updated with the mean over groups of each group's update, and evaluation is plain
    BatchNorm. Parameters and buffers have BatchNorm2d's names and shapes, so state dicts
    are interchangeable with the module it replaces.
    """

    def __init__(self, num_features: int, num_splits: int, **kwargs: object) -> None:
        super().__init__(num_features, **kwargs)  # type: ignore[arg-type]
        self.num_splits = num_splits

    def forward(self, x: Tensor) -> Tensor:
        splits = self.num_splits
        if not self.training or splits <= 1:
            return super().forward(x)
        n, c, h, w = x.shape
        if n % splits:
            raise ValueError(f"a batch of {n} cannot be split into {splits} equal groups")
        tracked = self.num_batches_tracked
        if tracked is not None:
            tracked.add_(1)
        factor = self.momentum
        if factor is None:  # cumulative average, as BatchNorm2d
            factor = 0.0 if tracked is None else 1.0 / float(tracked)
        mean, var = self.running_mean, self.running_var  # (C,) each; None: not tracked
        split_mean = None if mean is None else mean.repeat(splits)  # (s*C,)
        split_var = None if var is None else var.repeat(splits)  # (s*C,)
        out = F.batch_norm(
            x.reshape(n // splits, splits * c, h, w),  # column j*C + k: group j, channel k
            split_mean,
            split_var,
            None if self.weight is None else self.weight.repeat(splits),
            None if self.bias is None else self.bias.repeat(splits),
            True,
            factor,
            self.eps,
        )  # (N / s, s*C, H, W)
        if mean is not None and split_mean is not None:
            mean.copy_(split_mean.view(splits, c).mean(dim=0))
        if var is not None and split_var is not None:
            var.copy_(split_var.view(splits, c).mean(dim=0))
        layout = torch.channels_last if _channels_last(x) else torch.contiguous_format
        return out.reshape(n, c, h, w).contiguous(memory_format=layout)  # x's layout


def _channels_last(x: Tensor) -> bool:
    """Whether x is stored NHWC (and not also NCHW, as a tensor with 1-pixel maps is)."""
    return x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def split_batchnorm_(module: nn.Module, num_splits: int) -> nn.Module:
    """In place: every BatchNorm2d of ``module`` becomes a SplitBatchNorm2d with the same
    parameters and statistics; an existing SplitBatchNorm2d gets ``num_splits``."""
    for name, child in module.named_children():
        if isinstance(child, SplitBatchNorm2d):
            child.num_splits = num_splits
        elif isinstance(child, nn.BatchNorm2d):
            split = SplitBatchNorm2d(
                child.num_features,
                num_splits,
                eps=child.eps,
                momentum=child.momentum,
                affine=child.affine,
                track_running_stats=child.track_running_stats,
            ).to(device=child.weight.device if child.affine else None)
            split.load_state_dict(child.state_dict())
            split.train(child.training)
            split.requires_grad_(any(p.requires_grad for p in child.parameters()))
            setattr(module, name, split)
        else:
            split_batchnorm_(child, num_splits)
    return module


def set_num_splits_(module: nn.Module, num_splits: int) -> None:
    """Set how many groups every SplitBatchNorm2d of ``module`` normalises separately."""
    for child in module.modules():
        if isinstance(child, SplitBatchNorm2d):
            child.num_splits = num_splits


def shuffled_forward(module: nn.Module, x: Tensor) -> Tensor:
    """``module`` applied to x's rows in a random order, the outputs put back in x's order.

    Rows of x are independent samples: each output row still belongs to its input row,
    but which samples share a SplitBatchNorm2d group is random at every call.
    """
    order = torch.randperm(len(x), device=x.device)  # (N,)
    out = module(x[order])  # (N, ...) in shuffled order
    return out[torch.argsort(order)]  # (N, ...) in x's order
