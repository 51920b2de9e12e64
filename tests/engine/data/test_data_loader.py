"""BatchLoader: deterministic per (seed, epoch), full coverage, exact resume."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import torch

from ssl_engine.data.loader import BatchLoader
from ssl_engine.data.prefetch import prefetch
from ssl_engine.methods.base import Batch

CPU = torch.device("cpu")


def _loader(n: int = 21, batch_size: int = 4, seed: int = 0, **kwargs: bool) -> BatchLoader:
    generator = torch.Generator().manual_seed(123)
    images = torch.randint(0, 256, (n, 3, 6, 6), dtype=torch.uint8, generator=generator)
    labels = torch.arange(n) % 3
    return BatchLoader(images, labels, batch_size, CPU, seed, **kwargs)


def _order(batches: Iterator[Batch]) -> list[int]:
    return [i for batch in batches for i in batch.indices.tolist()]


def test_same_seed_and_epoch_give_the_same_order() -> None:
    assert _order(_loader().epoch(3)) == _order(_loader().epoch(3))


def test_order_ignores_the_global_rng() -> None:
    loader = _loader()
    torch.manual_seed(1)
    first = _order(loader.epoch(0))
    torch.manual_seed(2)
    assert _order(loader.epoch(0)) == first


def test_order_differs_across_epochs_and_seeds() -> None:
    loader = _loader()
    assert _order(loader.epoch(0)) != _order(loader.epoch(1))
    assert _order(loader.epoch(0)) != _order(_loader(seed=1).epoch(0))


def test_each_index_appears_once_per_epoch() -> None:
    kept = _order(_loader(drop_last=True).epoch(0))
    assert len(kept) == len(set(kept)) == 20  # 21 images, 5 full batches of 4
    everything = _order(_loader(drop_last=False).epoch(0))
    assert sorted(everything) == list(range(21))


def test_steps_per_epoch_with_and_without_drop_last() -> None:
    assert _loader(drop_last=True).steps_per_epoch == 5
    assert _loader(drop_last=False).steps_per_epoch == 6
    assert len(list(_loader(drop_last=False).epoch(0))) == 6


def test_start_step_yields_exactly_the_remaining_batches() -> None:
    loader = _loader()
    full = [batch.indices.tolist() for batch in loader.epoch(2)]
    resumed = [batch.indices.tolist() for batch in loader.epoch(2, start_step=3)]
    assert resumed == full[3:]
    assert list(loader.epoch(2, start_step=loader.steps_per_epoch)) == []


def test_batches_hold_float_pixels_and_matching_labels() -> None:
    loader = _loader()
    for batch in loader.epoch(0):
        assert batch.images.dtype == torch.float32 and batch.images.shape == (4, 3, 6, 6)
        assert batch.indices.dtype == torch.int64
        expected = loader.images.gather(batch.indices).float() / 255
        torch.testing.assert_close(batch.images, expected, atol=0, rtol=0)
        assert batch.labels is not None
        assert torch.equal(batch.labels, batch.indices % 3)


def test_background_thread_changes_nothing() -> None:
    with_thread = [b.images for b in _loader(background=True).epoch(1)]
    without = [b.images for b in _loader(background=False).epoch(1)]
    assert all(torch.equal(a, b) for a, b in zip(with_thread, without, strict=True))


def test_ordered_walks_the_dataset_in_order_with_a_short_last_batch() -> None:
    loader = _loader()
    chunks = list(loader.ordered(8))
    assert [indices.tolist() for _, indices in chunks][-1] == [16, 17, 18, 19, 20]
    images = torch.cat([images for images, _ in chunks])
    torch.testing.assert_close(images, loader.images.source.float() / 255, atol=0, rtol=0)


def test_unlabeled_data_gives_no_labels() -> None:
    loader = BatchLoader(torch.zeros(8, 3, 4, 4, dtype=torch.uint8), None, 4, CPU, seed=0)
    assert all(batch.labels is None for batch in loader.epoch(0))


def test_dataset_smaller_than_a_batch_raises_clearly() -> None:
    with pytest.raises(ValueError, match="fewer than one batch"):
        _loader(n=3, batch_size=4)
    assert _loader(n=3, batch_size=4, drop_last=False).steps_per_epoch == 1


@pytest.mark.parametrize("start_step", [-1, 6])
def test_out_of_range_start_step_raises_at_call_time(start_step: int) -> None:
    with pytest.raises(ValueError, match="start_step"):
        _loader().epoch(0, start_step=start_step)


def test_rejects_float_images_and_misshaped_labels() -> None:
    with pytest.raises(ValueError, match="uint8"):
        BatchLoader(torch.zeros(8, 3, 4, 4), None, 4, CPU, seed=0)
    with pytest.raises(ValueError, match="labels"):
        BatchLoader(torch.zeros(8, 3, 4, 4, dtype=torch.uint8), torch.zeros(7), 4, CPU, seed=0)


def test_prefetch_reraises_errors_and_stops_when_abandoned() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        list(prefetch(failing()))

    before = threading.active_count()
    items = prefetch(iter(range(1000)))
    assert next(items) == 0
    items.close()  # what a trainer's early break does
    assert threading.active_count() == before


def test_breaking_out_of_an_epoch_stops_the_background_thread() -> None:
    before = threading.active_count()
    batches = _loader(background=True).epoch(0)
    next(batches)
    assert threading.active_count() == before + 1
    del batches  # a trainer that stops mid-epoch (cancel) drops its iterator
    assert threading.active_count() == before
