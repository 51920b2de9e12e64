"""ImageRows: a subset of the memory-mapped cache read batch by batch, never copied whole."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor

from ssl_engine.data.cache import build_uint8_cache
from ssl_engine.data.loader import BatchLoader
from ssl_engine.data.rows import ImageRows, as_image_rows
from ssl_engine.evaluation.features import embed_uint8
from ssl_engine.evaluation.online import hold_out_for_knn
from ssl_engine.evaluation.split import held_out_split
from ssl_engine.methods.simclr import SimCLR, SimCLRHyperparameters
from tests.engine.data.image_files import write_image

CPU = torch.device("cpu")
SIZE = 8
NUM_FILES = 40


def memory_mapped_cache(tmp_path: Path) -> tuple[Tensor, list[str], list[int]]:
    """(N, 3, 8, 8) uint8 backed by the cache file, the files' keys and 4 class labels."""
    root = tmp_path / "data"
    keys = [f"class{i % 4}/{i:03d}.png" for i in range(NUM_FILES)]
    for seed, key in enumerate(keys):
        write_image(root / key, 9, 9, seed=seed)
    cached = build_uint8_cache(root, keys, SIZE, tmp_path / "cache")
    return cached.images, keys, [i % 4 for i in range(NUM_FILES)]


class GatherSpy:
    """Records how many rows every ``ImageRows.gather`` call reads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[int] = []
        original = ImageRows.gather

        def gather(rows: ImageRows, positions: Tensor) -> Tensor:
            self.sizes.append(len(positions))
            return original(rows, positions)

        monkeypatch.setattr(ImageRows, "gather", gather)


def test_behaves_like_the_indexed_tensor_without_copying_it(tmp_path: Path) -> None:
    cache, _, _ = memory_mapped_cache(tmp_path)
    rows = [5, 0, 33, 17, 17, 2]
    subset = ImageRows(cache, rows)
    assert len(subset) == 6 and subset.shape == (6, 3, SIZE, SIZE)
    assert subset.dtype == torch.uint8 and subset.ndim == 4
    assert subset.source.data_ptr() == cache.data_ptr()  # the mapping itself, not a copy
    assert subset.rows is not None and subset.rows.tolist() == rows
    positions = torch.tensor([3, 0, 5])
    assert torch.equal(subset.gather(positions), cache[torch.tensor([17, 5, 2])])
    nested = subset.take([2, 1])  # rows of rows: still indices into the same mapping
    assert nested.source is cache and nested.rows is not None
    assert nested.rows.tolist() == [33, 0]
    assert torch.equal(torch.cat(list(subset.chunks(4))), cache[torch.tensor(rows)])
    whole = as_image_rows(cache)
    assert whole.rows is None and len(whole) == NUM_FILES and as_image_rows(whole) is whole


def test_out_of_range_rows_are_rejected(tmp_path: Path) -> None:
    cache, _, _ = memory_mapped_cache(tmp_path)
    with pytest.raises(ValueError, match="rows must lie"):
        ImageRows(cache, [0, NUM_FILES])
    with pytest.raises(ValueError, match="positions must lie"):
        ImageRows(cache, [1, 2]).take([2])
    with pytest.raises(ValueError, match="uint8"):
        ImageRows(cache.float())


@pytest.mark.parametrize("drop_last", [True, False])
def test_loader_over_a_subset_yields_exactly_its_rows_one_batch_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, drop_last: bool
) -> None:
    cache, _, labels = memory_mapped_cache(tmp_path)
    rows = torch.tensor([i for i in range(NUM_FILES) if i % 3 != 0])  # 26 of the 40
    subset_labels = torch.tensor(labels)[rows]
    loader = BatchLoader(ImageRows(cache, rows), subset_labels, 8, CPU, 0, drop_last=drop_last)
    # What the loader keeps is the mapping and the indices, not a (26, 3, 8, 8) copy.
    assert isinstance(loader.images, ImageRows)
    assert loader.images.source.data_ptr() == cache.data_ptr()
    assert loader.images.rows is not None and torch.equal(loader.images.rows, rows)
    assert len(loader) == 26 and loader.steps_per_epoch == (3 if drop_last else 4)

    spy = GatherSpy(monkeypatch)
    seen: list[int] = []
    for batch in loader.epoch(1):
        source_rows = rows[batch.indices]  # positions in the subset -> rows of the cache
        expected = cache[source_rows].float() / 255
        torch.testing.assert_close(batch.images, expected, atol=0, rtol=0)
        assert batch.labels is not None and torch.equal(batch.labels, subset_labels[batch.indices])
        seen += source_rows.tolist()
    assert len(seen) == len(set(seen)) == (24 if drop_last else 26)
    assert set(seen) <= set(rows.tolist())
    # Every read was one batch; together they read each yielded row once.
    assert spy.sizes and max(spy.sizes) <= 8 and sum(spy.sizes) == len(seen)


def test_held_out_parts_are_rows_of_the_cache_and_train_the_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, keys, labels = memory_mapped_cache(tmp_path)
    split = held_out_split(keys, labels)
    train_part, evaluator = hold_out_for_knn(cache, keys, labels, num_classes=4)
    assert evaluator is not None
    for part, expected_rows in ((train_part, split.train), (evaluator.queries, split.held_out)):
        assert isinstance(part.images, ImageRows)
        assert part.images.source.data_ptr() == cache.data_ptr()
        assert part.images.rows is not None and part.images.rows.tolist() == expected_rows
        assert torch.equal(part.labels, torch.tensor(labels)[expected_rows])

    spy = GatherSpy(monkeypatch)
    loader = BatchLoader(train_part.images, train_part.labels, 4, CPU, 0, drop_last=False)
    trained = sorted(
        row for batch in loader.epoch(0) for row in train_part.images.source_rows(batch.indices)
    )
    assert trained == sorted(split.train)
    assert max(spy.sizes) <= 4


def test_embedding_rows_reads_them_in_chunks_and_equals_embedding_a_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, _, _ = memory_mapped_cache(tmp_path)
    rows = torch.arange(NUM_FILES - 1, 0, -3)  # 13 rows, reversed
    torch.manual_seed(0)
    method = SimCLR(backbone="tiny_cnn", image_size=SIZE, hparams=SimCLRHyperparameters())
    copied = embed_uint8(method, cache[rows], CPU, batch_size=5)
    spy = GatherSpy(monkeypatch)
    lazy = embed_uint8(method, ImageRows(cache, rows), CPU, batch_size=5)
    torch.testing.assert_close(lazy, copied)
    assert spy.sizes == [5, 5, 3]
