"""Which speed-ups a training run turns on, per device type, and the measurements behind it.

Three switches, each a ``TrainConfig`` field and a job option that can turn it off:

* ``precision="auto"`` runs the forward pass under bf16 autocast wherever the device has
  bf16 kernels: CUDA GPUs that report bf16 support, and CPUs whose oneDNN build has bf16
  kernels (AVX512-BF16 or AMX). Losses upcast to float32 themselves (``ssl_engine.losses``),
  because CPU autocast, unlike CUDA's, leaves softmax, norms and reductions in bf16.
* ``channels_last`` stores conv weights (and so activations) as NHWC, on CPU and CUDA.
* ``compile`` wraps every parameterised child of the method in ``torch.compile``; off by
  default (see below).

bf16 and channels_last are on by default where the device has fast kernels for them;
``torch.compile`` is opt-in (slow to compile, no faster on a small CPU). The measurements
behind these choices: see bench/RESULTS.md, "CPU speed-up switches".
"""

from __future__ import annotations

import torch
from torch import nn

from ssl_engine.precision import Precision, RequestedPrecision

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when present, else the CPU), or the named device (``cpu``, ``cuda:1``)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` has fast bf16 matrix kernels for autocast to use."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available()) and _cpu_has_bf16_kernels()
    return False


def _cpu_has_bf16_kernels() -> bool:
    # oneDNN's own check: true on AVX512-BF16 or AMX machines, where bf16 convolutions and
    # matmuls beat float32; elsewhere bf16 is emulated and slower than float32.
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def use_bf16(precision: str, device: torch.device) -> bool:
    """Whether to run the forward pass under bf16 autocast ("auto": where supported)."""
    if precision == "auto":
        return bf16_supported(device)
    return precision == "bf16"


def serving_precision(requested: RequestedPrecision, device: torch.device) -> Precision:
    """The precision an inference request for ``requested`` runs at on ``device``: "auto"
    is bf16 where the device has bf16 kernels, fp16 on other CUDA GPUs, else fp32."""
    if requested != "auto":
        return requested
    if bf16_supported(device):
        return "bf16"
    return "fp16" if device.type == "cuda" else "fp32"


def autocast_to(device: torch.device, precision: Precision) -> torch.autocast:
    """Autocast to ``precision`` on ``device`` (disabled for fp32)."""
    dtype = AUTOCAST_DTYPES.get(precision, torch.bfloat16)
    return torch.autocast(device.type, dtype=dtype, enabled=precision != "fp32")


def use_channels_last(requested: bool, device: torch.device) -> bool:
    """Whether to store the method's weights as NHWC: faster on CPU and CUDA alike."""
    return requested and device.type in ("cpu", "cuda")


def compile_children(method: nn.Module) -> None:
    """``torch.compile`` every direct child that has parameters, in place.

    The method's own ``training_step`` (augmentation, ``.item()`` for metrics, Python
    control flow) stays eager; its networks are compiled. ``Module.compile`` keeps the
    parameter names, so checkpoints are the same with and without compilation.
    """
    for child in method.children():
        if any(True for _ in child.parameters()):
            child.compile()
