"""Linear probe: a linear classifier on frozen features, scored on held-out images.

The standard linear evaluation of self-supervised representations (e.g. Chen et al.,
SimCLR, ICML 2020, section 4; Kolesnikov, Zhai and Beyer, "Revisiting Self-Supervised
Visual Representation Learning", CVPR 2019): the encoder stays fixed and only a
multinomial logistic regression on its features is trained. Here it is fitted with
full-batch L-BFGS (``torch.optim.LBFGS``, strong-Wolfe line search) on standardised
features with a small L2 penalty: deterministic, no learning rate to tune, and seconds
for tens of thousands of 512-d features. No penalty sweep is run, so the accuracy is a
slight under-estimate of a tuned probe's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_engine.data.rows import Images
from ssl_engine.evaluation.features import embed_uint8
from ssl_engine.evaluation.split import held_out_split
from ssl_engine.methods.base import Method

L2_PENALTY = 1e-4  # on the weights of standardised features; keeps separable data bounded
MAX_ITERATIONS = 200  # L-BFGS iterations; converges well before on typical feature sets


@dataclass(frozen=True)
class ProbeResult:
    top1: float  # accuracy on the held-out features, in [0, 1]
    train_top1: float  # accuracy on the features it was fitted on
    train_size: int
    test_size: int


def _standardise(train: Tensor, test: Tensor) -> tuple[Tensor, Tensor]:
    mean = train.mean(dim=0, keepdim=True)  # (1, D)
    std = train.std(dim=0, keepdim=True).clamp_min(1e-6)  # (1, D); constant dims stay 0
    return (train - mean) / std, (test - mean) / std


def _accuracy(logits: Tensor, labels: Tensor) -> float:
    return (logits.argmax(dim=1) == labels).float().mean().item()


def linear_probe(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    num_classes: int,
    l2_penalty: float = L2_PENALTY,
    max_iterations: int = MAX_ITERATIONS,
) -> ProbeResult:
    """Fit softmax regression on (N, D) train features, report top-1 on (M, D) test ones."""
    if train_features.ndim != 2 or test_features.shape[1:] != train_features.shape[1:]:
        raise ValueError(
            f"features must be (N, D) and (M, D), got {tuple(train_features.shape)} and "
            f"{tuple(test_features.shape)}"
        )
    if train_labels.shape != (len(train_features),) or test_labels.shape != (len(test_features),):
        raise ValueError("each feature row needs exactly one label")
    if len(train_features) < 2 or len(test_features) < 1 or num_classes < 2:
        raise ValueError("need >= 2 training rows, >= 1 test row and >= 2 classes")
    x_train, x_test = _standardise(train_features.float(), test_features.float())  # (N|M, D)
    device = x_train.device
    y_train, y_test = train_labels.long().to(device), test_labels.long().to(device)
    weight = torch.zeros(x_train.shape[1], num_classes, device=device, requires_grad=True)  # (D, C)
    bias = torch.zeros(num_classes, device=device, requires_grad=True)  # (C,)
    optimizer = torch.optim.LBFGS(
        [weight, bias], max_iter=max_iterations, line_search_fn="strong_wolfe"
    )

    def objective() -> Tensor:
        optimizer.zero_grad()
        logits = x_train @ weight + bias  # (N, C)
        loss = F.cross_entropy(logits, y_train) + 0.5 * l2_penalty * weight.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(objective)
    with torch.no_grad():
        return ProbeResult(
            top1=_accuracy(x_test @ weight + bias, y_test),
            train_top1=_accuracy(x_train @ weight + bias, y_train),
            train_size=len(x_train),
            test_size=len(x_test),
        )


def probe_labeled_images(
    method: Method,
    images: Images,
    keys: Sequence[str],
    labels: Sequence[int],
    num_classes: int,
    device: torch.device,
) -> ProbeResult:
    """Linear probe of ``method`` on (N, 3, S, S) uint8 images, scored on their held-out split.

    ``keys`` (relative paths) fix the split (``split.held_out_split``), the same one the
    trainer held out of pretraining when it ran on this dataset.
    """
    split = held_out_split(keys, labels)
    if not split.held_out:
        raise ValueError("no image can be held out: every class has a single image")
    features = embed_uint8(method, images, device).cpu()  # (N, D)
    targets = torch.as_tensor(list(labels), dtype=torch.long)  # (N,)
    train, test = torch.as_tensor(split.train), torch.as_tensor(split.held_out)
    return linear_probe(features[train], targets[train], features[test], targets[test], num_classes)
