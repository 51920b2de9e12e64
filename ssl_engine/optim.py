"""Optimizers and the learning-rate schedule the trainer uses.

* ``LARS``: layer-wise adaptive rate scaling (You et al., "Large Batch Training of
  Convolutional Networks", 2017), the optimizer of SimCLR, BYOL and Barlow Twins.
* ``param_groups``: biases and normalisation parameters get no weight decay and no LARS
  adaptation, as in SimCLR and BYOL (Grill et al., 2020, appendix C.1).
* ``warmup_cosine``: linear warm-up then cosine decay to zero (Goyal et al., "Accurate,
  Large Minibatch SGD", 2017 for the warm-up; Loshchilov & Hutter, "SGDR", 2017 for the
  cosine), stepped once per optimizer step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import SGD, AdamW, Optimizer
from torch.optim.lr_scheduler import LambdaLR
from torch.optim.optimizer import ParamsT

OPTIMIZERS = ("sgd", "lars", "adamw")


class LARS(Optimizer):
    """SGD with momentum whose step for each parameter tensor is scaled by a trust ratio.

    For a weight w with gradient g and weight decay beta, the update is
    lr * local_lr * (g + beta * w) with local_lr = eta * |w| / (|g| + beta * |w|)
    (You et al., 2017, eq. 6 with the weight-decay term), so every layer moves by about
    the same fraction eta * lr of its own norm whatever its gradient scale. Groups with
    ``lars_adaptation=False`` (biases, norms; see ``param_groups``) take plain SGD steps.
    A zero weight or gradient norm (e.g. a zero-initialised layer) also falls back to
    plain SGD, since the ratio is then meaningless.

    ``clip_lr`` (the LARS of solo-learn's CIFAR recipes; da Costa et al., JMLR 2022)
    replaces the product lr * local_lr by min(local_lr, lr): each layer moves by the
    fraction eta of its norm, but never faster than plain SGD at the scheduled rate. The
    fraction then no longer shrinks with the rate, so eta must be larger (0.02 rather
    than 0.001) for steps of the same size; warm-up and cosine decay still act through
    the cap.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust_coefficient: float = 0.001,
        clip_lr: bool = False,
        eps: float = 1e-8,
    ) -> None:
        if lr < 0:
            raise ValueError(f"lr must be >= 0, got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        if trust_coefficient <= 0:
            raise ValueError(f"trust_coefficient must be > 0, got {trust_coefficient}")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "weight_decay": weight_decay,
            "trust_coefficient": trust_coefficient,
            "clip_lr": clip_lr,
            "eps": eps,
            "lars_adaptation": True,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    self._update(param, group)
        return loss

    def _update(self, param: Tensor, group: dict[str, Any]) -> None:
        grad = param.grad
        assert grad is not None
        weight_decay = group["weight_decay"]
        update = grad.add(param, alpha=weight_decay)
        if group["lars_adaptation"]:
            w_norm = torch.linalg.vector_norm(param)
            g_norm = torch.linalg.vector_norm(grad)
            denominator = g_norm + weight_decay * w_norm + group["eps"]
            trust = group["trust_coefficient"] * w_norm / denominator
            if group["clip_lr"] and group["lr"] > 0:
                trust = torch.clamp(trust / group["lr"], max=1.0)  # step: min(eta*ratio, lr)
            usable = (w_norm > 0) & (g_norm > 0)
            update.mul_(torch.where(usable, trust, torch.ones_like(trust)))
        if group["momentum"] > 0:
            state = self.state[param]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = update.clone()
            else:
                state["momentum_buffer"].mul_(group["momentum"]).add_(update)
            update = state["momentum_buffer"]
        param.add_(update, alpha=-group["lr"])


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Trainable parameters split into a decayed group and a group of biases and norms.

    Every parameter with at most one dimension (biases, BatchNorm/LayerNorm scales and
    shifts) goes to the second group: no weight decay and no LARS adaptation. Frozen
    parameters (requires_grad=False, e.g. momentum targets) are left out.
    """
    decayed: list[nn.Parameter] = []
    plain: list[nn.Parameter] = []
    for param in model.parameters():
        if param.requires_grad:
            (plain if param.ndim <= 1 else decayed).append(param)
    return [
        {"params": decayed, "weight_decay": weight_decay},
        {"params": plain, "weight_decay": 0.0, "lars_adaptation": False},
    ]


def _all_on_cuda(params: list[Any]) -> bool:
    """Whether every tensor in a list of tensors or of parameter groups is on CUDA."""
    tensors: list[Tensor] = []
    for item in params:
        tensors.extend(item["params"] if isinstance(item, dict) else [item])
    return bool(tensors) and all(isinstance(t, Tensor) and t.is_cuda for t in tensors)


def build_optimizer(
    name: str,
    params: ParamsT,
    *,
    lr: float,
    weight_decay: float,
    momentum: float,
    trust_coefficient: float = 0.001,
    clip_lr: bool = False,
    betas: tuple[float, float] = (0.9, 0.999),
) -> Optimizer:
    """ "sgd" | "lars" | "adamw" over ``params`` (tensors or groups from ``param_groups``).

    ``weight_decay`` is the default for groups that do not set their own; ``momentum``
    is SGD's and LARS's, ``betas`` AdamW's, ``trust_coefficient`` and ``clip_lr`` LARS's.
    SGD and AdamW use the fused CUDA kernels when every parameter is on CUDA, the
    foreach path otherwise.
    """
    groups: list[Any] = list(params)
    kernels = {"fused": True} if _all_on_cuda(groups) else {"foreach": True}
    if name == "sgd":
        return SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay, **kernels)
    if name == "adamw":
        return AdamW(groups, lr=lr, betas=betas, weight_decay=weight_decay, **kernels)
    if name == "lars":
        return LARS(
            groups,
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            trust_coefficient=trust_coefficient,
            clip_lr=clip_lr,
        )
    raise ValueError(f"unknown optimizer {name!r}; known: {list(OPTIMIZERS)}")


def warmup_cosine(step: int, total_steps: int, warmup_steps: int) -> float:
    """LR multiplier for optimizer step ``step`` (0-based): linear warm-up, cosine to 0.

    The first step already gets 1 / warmup_steps of the base rate (never exactly 0).
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"warmup_steps must be in [0, {total_steps}], got {warmup_steps}")
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    decay_steps = max(total_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / decay_steps, 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(optimizer: Optimizer, total_steps: int, warmup_steps: int) -> LambdaLR:
    """A LambdaLR applying ``warmup_cosine``; call ``.step()`` after each optimizer step."""
    warmup_cosine(0, total_steps, warmup_steps)  # validate the arguments now, not at step 0

    def multiplier(step: int) -> float:
        return warmup_cosine(step, total_steps, warmup_steps)

    return LambdaLR(optimizer, multiplier)
