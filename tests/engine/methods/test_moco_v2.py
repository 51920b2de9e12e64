"""MoCo v2: the queue (a checkpointed buffer with its pointer), the momentum key encoder."""

from __future__ import annotations

import pydantic
import pytest
import torch
import torch.nn.functional as F

from ssl_engine.methods.base import Batch
from ssl_engine.methods.moco_v2 import MoCoV2, MoCoV2Hyperparameters


def tiny_moco(**hparams: float | int) -> MoCoV2:
    torch.manual_seed(0)
    settings = {"queue_size": 20, "projection_dim": 16, **hparams}
    return MoCoV2(backbone="tiny_cnn", image_size=16, hparams=MoCoV2Hyperparameters(**settings))


def batch(n: int = 8) -> Batch:
    return Batch(images=torch.rand(n, 3, 16, 16), indices=torch.arange(n))


def test_defaults_are_the_papers_with_cifar_sized_queue_and_momentum() -> None:
    hparams = MoCoV2Hyperparameters()
    assert hparams.temperature == 0.2
    assert hparams.projection_dim == 128
    assert hparams.queue_size == 4096
    assert hparams.momentum == 0.99


@pytest.mark.parametrize(
    "bad", [{"temperature": 0.0}, {"momentum": 1.5}, {"queue_size": 0}, {"shuffle_bn": True}]
)
def test_out_of_bounds_or_unknown_hyperparameters_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        MoCoV2Hyperparameters(**bad)


def test_queue_and_pointer_are_buffers_of_unit_keys() -> None:
    method = tiny_moco()
    state = method.state_dict()
    assert state["queue"].shape == (20, 16)
    assert state["queue_ptr"].item() == 0
    torch.testing.assert_close(state["queue"].norm(dim=1), torch.ones(20))


def test_each_step_enqueues_its_keys_at_the_pointer_and_wraps_around() -> None:
    method = tiny_moco()
    captured: list[torch.Tensor] = []
    method.key_projector.register_forward_hook(lambda _m, _i, out: captured.append(out))
    initial = method.queue.clone()
    for _ in range(3):  # 3 x 8 keys into 20 rows: rows 0-15, then 16-19 and 0-3
        method.training_step(batch(8))
    assert method.queue_ptr.item() == 4
    keys = F.normalize(torch.cat(captured), dim=1)  # (24, 16) in enqueue order
    torch.testing.assert_close(method.queue[4:16], keys[4:16])
    torch.testing.assert_close(method.queue[16:20], keys[16:20])
    torch.testing.assert_close(method.queue[0:4], keys[20:24])
    assert not torch.equal(method.queue, initial)


def test_the_loss_uses_the_queue_as_negatives() -> None:
    method = tiny_moco()
    images = batch(8)
    torch.manual_seed(1)
    before = method.training_step(images).loss.item()
    method.queue.copy_(torch.randn_like(method.queue))
    method.queue_ptr.zero_()
    torch.manual_seed(1)
    after = method.training_step(images).loss.item()
    assert before != pytest.approx(after)


def test_key_encoder_takes_no_gradient_and_trails_the_query_encoder_by_momentum() -> None:
    method = tiny_moco(momentum=0.9)
    method.training_step(batch()).loss.backward()
    assert all(p.grad is None for p in method.key_backbone.parameters())
    assert all(p.grad is None for p in method.key_projector.parameters())
    with torch.no_grad():
        for p in method.backbone.parameters():
            p.add_(1.0)
    key_before = [p.clone() for p in method.key_backbone.parameters()]
    method.on_step_end(0.5)
    for key, old, query in zip(
        method.key_backbone.parameters(), key_before, method.backbone.parameters(), strict=True
    ):
        torch.testing.assert_close(key, 0.9 * old + 0.1 * query)


def test_projection_head_has_no_batch_norm() -> None:
    method = tiny_moco()
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in method.projector.modules())
