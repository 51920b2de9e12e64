"""Momentum (exponential moving average) targets, shared by MoCo and BYOL.

MoCo (He et al., CVPR 2020) keeps a key encoder whose weights trail the query encoder's
with a fixed momentum; BYOL (Grill et al., NeurIPS 2020) does the same for its target
network and raises the momentum from tau_base to 1 along a cosine during training.
"""

from __future__ import annotations

import copy
import math
from typing import TypeVar

import torch
from torch import nn

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def frozen_copy(module: ModuleT) -> ModuleT:
    """A deep copy of ``module`` whose parameters take no gradient (an EMA target)."""
    target = copy.deepcopy(module)
    target.requires_grad_(False)
    return target


@torch.no_grad()
def ema_update_(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """In place: target <- momentum * target + (1 - momentum) * online, parameters only.

    Buffers (BatchNorm running statistics) are left alone: the target keeps the ones its
    own forward passes produce. Both modules must have the same parameter names.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    target_params = dict(target.named_parameters())
    online_params = dict(online.named_parameters())
    if target_params.keys() != online_params.keys():
        raise ValueError("target and online modules have different parameters")
    for name, t in target_params.items():
        t.lerp_(online_params[name].detach(), 1.0 - momentum)


def cosine_momentum(base: float, progress: float, final: float = 1.0) -> float:
    """BYOL's schedule: base at progress 0, final at progress 1, along a half cosine.

    tau = final - (final - base) * (cos(pi * progress) + 1) / 2; progress is clamped to
    [0, 1] so a resumed or overrunning job never leaves the schedule.
    """
    if not 0.0 <= base <= final <= 1.0:
        raise ValueError(f"need 0 <= base <= final <= 1, got base={base}, final={final}")
    progress = min(max(progress, 0.0), 1.0)
    return final - (final - base) * (math.cos(math.pi * progress) + 1) / 2
