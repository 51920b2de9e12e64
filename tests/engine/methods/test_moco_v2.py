"""MoCo v2: the queue (a checkpointed buffer with its pointer), the momentum key encoder."""

from __future__ import annotations

import pydantic
import pytest
import torch
import torch.nn.functional as F

from ssl_engine.methods import moco_v2
from ssl_engine.methods.base import Batch
from ssl_engine.methods.moco_v2 import MoCoV2, MoCoV2Hyperparameters
from ssl_engine.split_batchnorm import SplitBatchNorm2d


def tiny_moco(**hparams: float | int) -> MoCoV2:
    torch.manual_seed(0)
    settings = {"queue_size": 20, "projection_dim": 16, **hparams}
    return MoCoV2(backbone="tiny_cnn", image_size=16, hparams=MoCoV2Hyperparameters(**settings))


class FixedViews(torch.nn.Module):
    """Stands in for the augmentation: always the same (2B, 3, S, S) views."""

    def __init__(self, views: torch.Tensor) -> None:
        super().__init__()
        self.fixed = views

    def forward(self, _images: torch.Tensor) -> torch.Tensor:
        return self.fixed


def batch(n: int = 8) -> Batch:
    return Batch(images=torch.rand(n, 3, 16, 16), indices=torch.arange(n))


def test_defaults_are_lightlys_cifar_recipe() -> None:
    hparams = MoCoV2Hyperparameters()
    assert hparams.temperature == 0.1
    assert hparams.num_splits == 8
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


def test_each_step_enqueues_both_views_keys_at_the_pointer_and_wraps_around() -> None:
    method = tiny_moco()
    captured: list[torch.Tensor] = []
    keys_of = method._keys

    def recording(views: torch.Tensor) -> torch.Tensor:
        captured.append(keys_of(views))
        return captured[-1]

    method._keys = recording  # type: ignore[method-assign]
    initial = method.queue.clone()
    for _ in range(3):  # 3 x (2 x 4) keys into 20 rows: rows 0-15, then 16-19 and 0-3
        method.training_step(batch(4))
    assert method.queue_ptr.item() == 4
    keys = F.normalize(torch.cat(captured), dim=1)  # (24, 16) in enqueue order
    torch.testing.assert_close(method.queue[4:16], keys[4:16])
    torch.testing.assert_close(method.queue[16:20], keys[16:20])
    torch.testing.assert_close(method.queue[0:4], keys[20:24])
    assert not torch.equal(method.queue, initial)


def test_the_loss_is_symmetric_in_the_two_views() -> None:
    """Each view is once the query and once the key: swapping the two views gives the
    same loss (key BatchNorm on running statistics, so the random groups do not matter)."""
    method = tiny_moco()
    method.key_backbone.eval()
    images = batch(8)
    views = method.views(images.images)  # (16, 3, 16, 16)
    swapped = torch.cat(views.chunk(2)[::-1])
    losses, queue = [], method.queue.clone()
    for pair in (views, swapped):
        method.views = FixedViews(pair)  # type: ignore[assignment]
        losses.append(method.training_step(images).loss.item())
        method.queue.copy_(queue)  # the same negatives for both
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


def test_keys_line_up_with_their_queries_after_the_shuffle() -> None:
    """Keys are computed on a shuffled batch and put back in order: with BatchNorm on
    running statistics (no groups) they equal the keys of the unshuffled batch."""
    method = tiny_moco()
    method.key_backbone.eval()
    views = torch.rand(16, 3, 16, 16)
    expected = method.key_projector(method.key_backbone(views))
    torch.testing.assert_close(method._keys(views), expected, rtol=1e-4, atol=1e-5)


def test_batchnorm_of_both_encoders_is_split_in_groups_of_the_global_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    method = tiny_moco(num_splits=4)
    monkeypatch.setattr(moco_v2, "MIN_GROUP_IMAGES", 1)
    seen: list[int] = []
    for encoder in (method.backbone, method.key_backbone):
        for module in encoder.modules():
            if isinstance(module, SplitBatchNorm2d):
                module.register_forward_hook(lambda m, _i, _o: seen.append(m.num_splits))
    method.training_step(batch(8))  # 2 views of 8 images: 4 groups per view
    assert len(seen) == 8 and set(seen) == {8}  # 4 BatchNorms in each encoder
    method.training_step(batch(6))  # 6 images: the largest divisor of 6 below 4
    assert set(seen[8:]) == {6}


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


def test_small_batches_keep_at_least_eight_images_per_group() -> None:
    method = tiny_moco(num_splits=8)
    method._set_splits(32)  # 8 splits would leave 4 images per group: 4 groups of 8
    split = next(m for m in method.backbone.modules() if isinstance(m, SplitBatchNorm2d))
    assert split.num_splits == 2 * 4  # both views in one pass
    method._set_splits(6)  # fewer than 8 images: no split
    assert split.num_splits == 2
