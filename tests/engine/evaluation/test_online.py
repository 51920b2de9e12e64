"""The epoch-end kNN evaluator: a held-out part never trained on, a score every epoch."""

from __future__ import annotations

from pathlib import Path

import torch

from ssl_engine.data.rows import as_image_rows
from ssl_engine.evaluation.online import KnnEvaluator, LabeledImages, hold_out_for_knn
from ssl_engine.methods.simclr import SimCLR, SimCLRHyperparameters
from ssl_engine.trainer import TrainConfig, train
from tests.engine.evaluation.recording_hooks import Recorder
from tests.engine.toy_data import NUM_CLASSES, InMemoryLoader, toy_images

CPU = torch.device("cpu")


def uint8_toy_dataset(n: int) -> tuple[torch.Tensor, list[str], list[int]]:
    images, labels = toy_images(n, size=16)
    pixels = (images * 255).round().to(torch.uint8)  # (N, 3, 16, 16)
    keys = [f"class{int(y)}/{i:03d}.png" for i, y in enumerate(labels)]
    return pixels, keys, labels.tolist()


def tiny_simclr() -> SimCLR:
    torch.manual_seed(0)
    hparams = SimCLRHyperparameters(projection_dim=16)
    return SimCLR(backbone="tiny_cnn", image_size=16, hparams=hparams)


def test_held_out_images_are_not_in_the_training_part() -> None:
    pixels, keys, labels = uint8_toy_dataset(80)
    train_part, evaluator = hold_out_for_knn(pixels, keys, labels, NUM_CLASSES)
    assert evaluator is not None
    held = evaluator.queries
    assert len(train_part.images) + len(held.images) == 80 and len(held.images) == 8
    train_images = as_image_rows(train_part.images).gather(torch.arange(72))
    held_images = as_image_rows(held.images).gather(torch.arange(8))
    train_rows = {tuple(image.flatten().tolist()) for image in train_images}
    assert not any(tuple(image.flatten().tolist()) in train_rows for image in held_images)
    assert torch.bincount(held.labels).tolist() == [2, 2, 2, 2]  # stratified
    assert evaluator.bank is train_part  # the bank is the training part itself


def test_a_single_class_trains_on_everything_without_an_evaluator() -> None:
    pixels, keys, _ = uint8_toy_dataset(12)
    train_part, evaluator = hold_out_for_knn(pixels, keys, [0] * 12, num_classes=1)
    assert evaluator is None and torch.equal(train_part.images, pixels)


def test_evaluating_changes_neither_weights_nor_mode_nor_random_state() -> None:
    pixels, keys, labels = uint8_toy_dataset(40)
    _, evaluator = hold_out_for_knn(pixels, keys, labels, NUM_CLASSES)
    assert evaluator is not None
    method = tiny_simclr().train()
    before = {k: v.clone() for k, v in method.state_dict().items()}
    rng = torch.get_rng_state()
    metrics = evaluator.evaluate(method, CPU)
    assert 0.0 <= metrics["knn_top1"] <= 1.0 and metrics["knn_seconds"] >= 0
    assert method.training and torch.equal(torch.get_rng_state(), rng)
    for key, value in method.state_dict().items():
        assert torch.equal(value, before[key]), key


class PixelReader(SimCLR):
    """Embeds an image as the one-hot of the class written into its first pixel."""

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        classes = (x[:, 0, 0, 0] * 255 / 60).round().long()  # (B,)
        return torch.nn.functional.one_hot(classes, NUM_CLASSES).float()  # (B, C)


def test_an_encoder_that_separates_classes_scores_one() -> None:
    labels = torch.arange(40) % NUM_CLASSES
    pixels = torch.zeros(40, 3, 8, 8, dtype=torch.uint8)
    pixels[:, 0, 0, 0] = labels * 60
    torch.manual_seed(0)
    method = PixelReader(backbone="tiny_cnn", image_size=8, hparams=SimCLRHyperparameters())
    queries, bank = LabeledImages(pixels[:8], labels[:8]), LabeledImages(pixels[8:], labels[8:])
    assert KnnEvaluator(bank, queries, NUM_CLASSES).evaluate(method, CPU)["knn_top1"] == 1.0


def test_the_trainer_logs_knn_top1_at_the_end_of_every_epoch(tmp_path: Path) -> None:
    pixels, keys, labels = uint8_toy_dataset(72)
    train_part, evaluator = hold_out_for_knn(pixels, keys, labels, NUM_CLASSES)
    train_images = as_image_rows(train_part.images).gather(torch.arange(64))
    loader = InMemoryLoader(train_images.float() / 255, batch_size=16)  # 4 steps/epoch
    hooks = Recorder()
    config = TrainConfig(epochs=3, batch_size=16, log_every_steps=1, precision="fp32")
    result = train(tiny_simclr(), loader, config, tmp_path, hooks, CPU, evaluator=evaluator)
    knn = [(step, epoch, m["knn_top1"]) for step, epoch, m in hooks.metrics if "knn_top1" in m]
    assert [(step, epoch) for step, epoch, _ in knn] == [(4, 0), (8, 1), (12, 2)]
    assert all(0.0 <= top1 <= 1.0 for _, _, top1 in knn)
    assert result.last_metrics["knn_top1"] == knn[-1][2]
