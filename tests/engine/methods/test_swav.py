"""SwAV-specific behaviour: prototype normalisation and freezing, the queue."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from ssl_engine.methods.base import Batch, EpochContext
from ssl_engine.methods.swav import SwAV, SwAVHyperparameters

BATCH = 8


def _swav(**overrides: object) -> SwAV:
    torch.manual_seed(0)
    hparams = SwAVHyperparameters(num_prototypes=10, projection_hidden_dim=32, **overrides)
    return SwAV(backbone="tiny_cnn", image_size=16, hparams=hparams)


def _batch() -> Batch:
    images = torch.rand(BATCH, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    return Batch(images=images, indices=torch.arange(BATCH))


def _start_epoch(method: SwAV, epoch: int) -> None:
    def nothing() -> Iterator[tuple[Tensor, Tensor]]:
        return iter(())

    method.on_epoch_start(
        EpochContext(epoch, 100, torch.device("cpu"), BATCH, iterate_dataset=nothing)
    )


def test_prototypes_are_unit_vectors_when_a_step_uses_them() -> None:
    method = _swav()
    with torch.no_grad():
        method.prototypes.weight.mul_(3.0)
    method.training_step(_batch())
    norms = method.prototypes.weight.norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms))


def test_prototypes_get_no_gradient_until_the_freeze_ends() -> None:
    method = _swav(freeze_prototypes_epochs=1, queue_length=0)
    _start_epoch(method, 0)
    method.training_step(_batch()).loss.backward()
    assert method.prototypes.weight.grad is None
    assert method.projector[0].weight.grad is not None

    _start_epoch(method, 1)
    method.training_step(_batch()).loss.backward()
    assert method.prototypes.weight.grad is not None


def test_queue_waits_for_its_start_epoch_then_fills_newest_first() -> None:
    method = _swav(queue_length=12, queue_start_epoch=1)
    _start_epoch(method, 0)
    method.training_step(_batch())
    assert int(method.queue_filled) == 0 and not method.queue.any()

    _start_epoch(method, 1)
    output = method.training_step(_batch())
    assert int(method.queue_filled) == BATCH
    assert output.metrics["queue_in_use"] == 0.0  # not full yet: batch-only Sinkhorn
    rows = method.queue[:, :BATCH]  # (2, B, P) the projections just pushed
    torch.testing.assert_close(rows.norm(dim=2), torch.ones(2, BATCH))
    assert not method.queue[:, BATCH:].any()

    first_rows = rows.clone()
    output = method.training_step(_batch())
    assert int(method.queue_filled) == 12  # capped at the queue length
    torch.testing.assert_close(method.queue[:, BATCH:], first_rows[:, : 12 - BATCH])
    assert output.metrics["queue_in_use"] == 0.0
    assert method.training_step(_batch()).metrics["queue_in_use"] == 1.0


def test_queued_codes_still_give_each_sample_a_distribution() -> None:
    method = _swav(queue_length=8, queue_start_epoch=0)
    method.queue.copy_(torch.nn.functional.normalize(torch.randn(2, 8, 128), dim=2))
    scores = torch.randn(BATCH, 10)
    codes = method._codes(scores, method.queue[0])
    assert codes.shape == (BATCH, 10)
    torch.testing.assert_close(codes.sum(dim=1), torch.ones(BATCH))


def test_queue_and_schedule_position_are_checkpointed() -> None:
    method = _swav(queue_length=8, queue_start_epoch=0)
    _start_epoch(method, 3)
    method.training_step(_batch())
    restored = _swav(queue_length=8, queue_start_epoch=0)
    restored.load_state_dict(method.state_dict())
    assert torch.equal(restored.queue, method.queue)
    assert int(restored.queue_filled) == BATCH and int(restored.epoch) == 3


def test_freeze_and_queue_start_are_shares_of_the_run() -> None:
    """solo-learn's epochs 2 and 50 of 1,000 become 0.2% and 5% of any run's steps."""
    defaults = SwAVHyperparameters()
    assert (defaults.freeze_prototypes_fraction, defaults.queue_start_fraction) == (0.002, 0.05)
    assert defaults.freeze_prototypes_epochs is None and defaults.queue_start_epoch is None
    method = _swav(freeze_prototypes_fraction=0.1, queue_start_fraction=0.5, queue_length=16)
    for progress, frozen, queued in ((0.0, True, False), (0.1, False, False), (0.5, False, True)):
        method.on_step_end(progress)
        method.prototypes.weight.grad = None
        method.training_step(_batch()).loss.backward()
        assert (method.prototypes.weight.grad is None) is frozen, progress
        assert (int(method.queue_filled) > 0) is queued, progress


def test_a_job_stored_with_epoch_keys_keeps_its_epoch_schedule() -> None:
    """Jobs and models stored before the schedule was a share of the run carry
    queue_start_epoch and freeze_prototypes_epochs; those still decide."""
    method = _swav(freeze_prototypes_epochs=2, queue_start_epoch=50, queue_length=16)
    method.on_step_end(0.9)  # far along the run, but only at epoch 1
    _start_epoch(method, 1)
    method.training_step(_batch()).loss.backward()
    assert method.prototypes.weight.grad is None and int(method.queue_filled) == 0


def test_a_checkpoint_without_the_progress_buffer_still_loads() -> None:
    method = _swav()
    state = method.state_dict()
    del state["progress"]  # as written before the schedule was a share of the run
    restored = _swav()
    restored.load_state_dict(state)
    assert float(restored.progress) == 0.0
