"""The held-out split: disjoint from training, deterministic, stratified, stable."""

from __future__ import annotations

import random

import pytest

from ssl_engine.evaluation.split import held_out_split


def folder(per_class: dict[str, int]) -> tuple[list[str], list[int]]:
    """Relative paths and labels of a class-folder dataset with the given class sizes."""
    keys, labels = [], []
    for label, (name, count) in enumerate(per_class.items()):
        keys += [f"{name}/{i:04d}.jpg" for i in range(count)]
        labels += [label] * count
    return keys, labels


def test_train_and_held_out_are_disjoint_and_cover_every_image() -> None:
    keys, labels = folder({"cat": 50, "dog": 30, "fox": 7})
    split = held_out_split(keys, labels)
    assert not set(split.train) & set(split.held_out)
    assert sorted(split.train + split.held_out) == list(range(len(keys)))


def test_every_class_holds_out_the_same_share() -> None:
    keys, labels = folder({"cat": 5000, "dog": 5000, "fox": 40})
    split = held_out_split(keys, labels, fraction=0.1)
    held_per_class = [sum(labels[i] == c for i in split.held_out) for c in range(3)]
    assert held_per_class == [500, 500, 4]


def test_small_classes_keep_an_image_on_each_side_and_singletons_train() -> None:
    keys, labels = folder({"a": 1, "b": 2, "c": 3})
    split = held_out_split(keys, labels, fraction=0.9)
    held = [keys[i] for i in split.held_out]
    assert [k.split("/")[0] for k in held] == ["b", "c", "c"]  # "a" alone always trains


def test_the_split_depends_on_the_paths_not_their_order() -> None:
    keys, labels = folder({"cat": 40, "dog": 40})
    pairs = list(zip(keys, labels, strict=True))
    random.Random(0).shuffle(pairs)
    shuffled_keys, shuffled_labels = [k for k, _ in pairs], [y for _, y in pairs]
    first = {keys[i] for i in held_out_split(keys, labels).held_out}
    second = {shuffled_keys[i] for i in held_out_split(shuffled_keys, shuffled_labels).held_out}
    assert first == second and len(first) == 8


def test_adding_a_file_barely_moves_the_split() -> None:
    keys, labels = folder({"cat": 99})
    before = {keys[i] for i in held_out_split(keys, labels).held_out}
    keys.append("cat/extra.jpg")
    labels.append(0)
    after = {keys[i] for i in held_out_split(keys, labels).held_out}
    assert len(before ^ after) <= 2


def test_max_per_class_caps_the_held_out_part() -> None:
    keys, labels = folder({"cat": 1000, "dog": 1000})
    assert len(held_out_split(keys, labels, max_per_class=20).held_out) == 40


@pytest.mark.parametrize(
    ("keys", "labels", "fraction", "message"),
    [
        (["a", "b"], [0], 0.1, "labels"),
        (["a", "a"], [0, 0], 0.1, "unique"),
        (["a", "b"], [0, 0], 1.0, "fraction"),
    ],
)
def test_rejects_bad_input(
    keys: list[str], labels: list[int], fraction: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        held_out_split(keys, labels, fraction=fraction)
