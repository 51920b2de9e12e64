"""The collapse monitor, driven by real encoders: a constant one is flagged, a random one not."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ssl_engine.backbones import build_backbone
from ssl_engine.methods.simclr import SimCLR, SimCLRHyperparameters
from ssl_engine.monitor import CollapseMonitor
from ssl_engine.trainer import TrainConfig, train
from tests.engine.evaluation.recording_hooks import Recorder
from tests.engine.toy_data import InMemoryLoader, toy_images

CPU = torch.device("cpu")


class ConstantEncoder(nn.Module):
    """Maps every image to the same learnable 64-d vector: collapse by construction."""

    def __init__(self) -> None:
        super().__init__()
        self.vector = nn.Parameter(torch.randn(64))
        self.out_dim = 64

    def forward(self, x: Tensor) -> Tensor:
        return self.vector.expand(x.shape[0], -1)  # (B, 64)


def simclr_with(backbone: nn.Module | None) -> SimCLR:
    torch.manual_seed(0)
    method = SimCLR(backbone="tiny_cnn", image_size=16, hparams=SimCLRHyperparameters())
    if backbone is not None:
        method.backbone = backbone  # type: ignore[assignment]
    return method


def test_a_constant_encoder_is_flagged_and_a_random_one_is_not() -> None:
    images, _ = toy_images(64, size=16)
    torch.manual_seed(0)
    random_encoder = build_backbone("tiny_cnn", 16).train()  # as in a training step
    with torch.no_grad():
        assert CollapseMonitor().update(ConstantEncoder()(images)).collapsed
        assert not CollapseMonitor().update(random_encoder(images)).collapsed


def test_training_a_constant_encoder_raises_collapse_warnings_and_a_random_one_none(
    tmp_path: Path,
) -> None:
    images, _ = toy_images(32, size=16)
    config = TrainConfig(epochs=2, batch_size=16, collapse_every_steps=1, precision="fp32")
    collapsed, healthy = Recorder(), Recorder()
    loader = InMemoryLoader(images, batch_size=16)
    train(simclr_with(ConstantEncoder()), loader, config, tmp_path / "a", collapsed, CPU)
    train(simclr_with(None), loader, config, tmp_path / "b", healthy, CPU)
    assert collapsed.events == ["collapse_warning", "collapse_warning"]  # once per epoch
    assert healthy.events == []
    ratios = [m["collapse_std_ratio"] for _, _, m in healthy.metrics if "collapse_std_ratio" in m]
    assert len(ratios) == 4 and min(ratios) > 0.2
