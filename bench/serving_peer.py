"""The serving benchmark's peer: the best a user gets calling the same model directly.

The model is rebuilt from the weights file the service serves and called in plain PyTorch,
on already-decoded images, from one worker thread (as the server's batcher calls it). The
peer is the fastest of three ways to run it, chosen per batch size on this machine:

* ``fp32``: float32, NCHW, as loaded;
* ``bf16+cl``: bf16 autocast with channels_last weights and inputs (what a user following
  PyTorch's CPU performance guide does);
* ``bf16+cl, cast once``: the same with the convolution and linear weights cast to bf16
  beforehand, so that autocast does not cast them on every call.

Also here: the dataset-embedding path of a worker (``embed_uint8`` at the serving
precision) timed the same way, and how close bf16 vectors are to float32 ones.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch import Tensor, nn

from ssl_engine.checkpoint import load_model_weights
from ssl_engine.factory import build_method
from ssl_engine.methods.base import Method
from ssl_engine.recipe import Recipe

CHOOSE_SECONDS = 1.5  # per candidate and batch size, when picking the fastest


def _load(weights: Path, recipe: Recipe) -> Method:
    model = build_method(recipe)
    load_model_weights(weights, model)
    return model.eval()


def _cast_once(model: Method) -> Method:
    cast = copy.deepcopy(model)
    for module in cast.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            module.to(torch.bfloat16)
    return cast


def _forward(model: Method, images: Tensor, bf16: bool) -> Tensor:
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return model.embed(images).float()  # (B, D)


class DirectPeer:
    """The model in this process, always called from one worker thread."""

    def __init__(self, weights: Path, recipe: Recipe, image: Tensor, max_batch: int) -> None:
        self._pool = ThreadPoolExecutor(1)
        plain = _load(weights, recipe)
        fast = _load(weights, recipe).to(memory_format=torch.channels_last)
        # name -> (model, bf16, channels_last inputs)
        self.candidates = {
            "fp32": (plain, False, False),
            "bf16+cl": (fast, True, True),
            "bf16+cl, cast once": (_cast_once(fast), True, True),
        }
        self.one = image[None]  # (1, 3, S, S)
        self.batch = self.one.expand(max_batch, -1, -1, -1).contiguous()  # (B, 3, S, S)
        self.best = {size: self._fastest(size) for size in (max_batch, 1)}

    def _run(self, name: str, images: Tensor) -> float:
        model, bf16, channels_last = self.candidates[name]
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)

        def timed() -> float:
            tick = time.perf_counter()
            _forward(model, images, bf16)
            return time.perf_counter() - tick

        return self._pool.submit(timed).result()

    def _fastest(self, batch: int) -> str:
        images = self.batch[:batch]
        rates: dict[str, float] = {}
        for name in self.candidates:
            self._run(name, images)  # warm-up
            elapsed, count = 0.0, 0
            while elapsed < CHOOSE_SECONDS:
                elapsed += self._run(name, images)
                count += batch
            rates[name] = count / elapsed
        print(
            f"direct batch {batch}: "
            + ", ".join(f"{name} {rate:.1f} img/s" for name, rate in rates.items())
        )
        return max(rates, key=lambda name: rates[name])

    def batch_1_seconds(self) -> float:
        return self._run(self.best[1], self.one)

    def images_per_sec(self, seconds: float) -> tuple[float, float]:
        """Images per second and per CPU-second of back-to-back forwards of the best way
        at the maximum batch size for ``seconds`` (this process does nothing else)."""
        name = self.best[len(self.batch)]
        return _rate(lambda: self._run(name, self.batch), len(self.batch), seconds)

    def close(self) -> None:
        self._pool.shutdown()


def _rate(step: Callable[[], float], images: int, seconds: float) -> tuple[float, float]:
    elapsed, count, cpu = 0.0, 0, time.process_time()
    while elapsed < seconds:
        elapsed += step()
        count += images
    return count / elapsed, count / (time.process_time() - cpu)


class DatasetEmbedding:
    """What a worker's dataset-embedding task runs (``embed_uint8`` of a uint8 cache at the
    serving precision, on the model cast once), timed like the peer."""

    def __init__(
        self, weights: Path, recipe: Recipe, images: Tensor, requested: str, batch: int
    ) -> None:
        from ssl_engine.acceleration import serving_precision
        from ssl_engine.evaluation.features import embed_uint8
        from ssl_engine.inference import cast_for_autocast, load_for_inference

        cpu = torch.device("cpu")
        self._precision = serving_precision(requested, cpu)  # type: ignore[arg-type]
        model = load_for_inference(weights, recipe, cpu)
        self._model = cast_for_autocast(model, self._precision)
        self._embed = embed_uint8
        self._images = images  # (N, 3, S, S) uint8
        self._batch = batch  # the worker's: SSLPT_EMBED_MAX_BATCH

    def images_per_sec(self, seconds: float) -> tuple[float, float]:
        def step() -> float:
            tick = time.perf_counter()
            self._embed(
                self._model,
                self._images,
                torch.device("cpu"),
                self._batch,
                precision=self._precision,
            )
            return time.perf_counter() - tick

        step()  # warm-up
        return _rate(step, len(self._images), seconds)


def bf16_agreement(weights: Path, recipe: Recipe, images: Tensor) -> tuple[float, float]:
    """(min, mean) cosine between bf16 and float32 vectors of ``images`` through the
    serving path."""
    from ssl_engine.inference import cast_for_autocast, embed_images, load_for_inference

    model = load_for_inference(weights, recipe, torch.device("cpu"))
    fp32 = embed_images(model, images, normalize=True, precision="fp32")
    bf16 = embed_images(cast_for_autocast(model, "bf16"), images, normalize=True, precision="bf16")
    cosine = (fp32 * bf16).sum(dim=1)  # (N,)
    return float(cosine.min()), float(cosine.mean())
