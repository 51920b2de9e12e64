"""Loaded models kept for serving: an LRU cache bounded by a memory budget.

The first request for a model loads it (once, however many requests ask at the same
time); later requests reuse it. Each loaded model owns a ``DynamicBatcher``. When the
models' parameter and buffer bytes exceed the budget, or more than ``capacity`` models
are loaded, the least recently used ones are evicted: their batchers answer what they
already admitted and stop. The model just loaded is never evicted, so a model larger
than the whole budget still serves (alone).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from api.serving import metrics
from api.serving.batcher import BatchingConfig, DynamicBatcher
from ssl_engine.recipe import Recipe

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    from ssl_engine.methods.base import Method
    from ssl_engine.precision import Precision, RequestedPrecision

# A loaded model's row is read again when its spec was last confirmed longer ago than this,
# so a model deleted through another API process stops being served within it.
RECHECK_SECONDS = 5.0


@dataclass(frozen=True)
class ModelSpec:
    """What it takes to rebuild a trained model for inference: its recipe and weights."""

    model_id: str
    tenant_id: str
    recipe: Recipe
    weights_path: Path


@dataclass
class LoadedModel:
    spec: ModelSpec
    module: Method
    device: torch.device
    precision: Precision  # what a request that names none runs at (SSLPT_SERVING_PRECISION)
    nbytes: int  # parameters and buffers, of every precision's copy
    load_seconds: float
    batcher: DynamicBatcher = field(init=False)
    # The module cast for each precision asked for so far (``cast_for_autocast``); fp32 is
    # ``module`` itself. Read and extended only under ``lock``.
    variants: dict[str, Method] = field(default_factory=dict)
    # One forward pass at a time per model: the batcher and the energy route share it.
    lock: threading.Lock = field(default_factory=threading.Lock)
    confirmed_at: float = field(default_factory=time.monotonic)  # its row last read

    def resolve(self, requested: RequestedPrecision | None) -> Precision:
        """The precision a request asking for ``requested`` (None: the default) runs at."""
        from ssl_engine.acceleration import serving_precision

        return self.precision if requested is None else serving_precision(requested, self.device)

    def embed_batch(self, images: Tensor, precision: Precision) -> Tensor:
        """(B, 3, S, S) CPU images in [0, 1] -> (B, D) CPU float32 (not normalised)."""
        from ssl_engine.inference import embed_images

        with self.lock:
            module = self._module_at(precision)
            vectors = embed_images(module, images, normalize=False, precision=precision)
        return vectors.cpu()  # (B, D)

    def energies(self, x: Tensor, y: Tensor, precision: Precision) -> list[float]:
        """(N, 3, S, S) CPU x and y in [0, 1] -> N energies E(x, y)."""
        from ssl_engine.inference import energies

        with self.lock:
            found = energies(self._module_at(precision), x, y, precision)  # (N,)
        result: list[float] = found.cpu().tolist()
        return result

    def picture(self, draw: Callable[[Method], bytes]) -> bytes:
        """``draw(module)`` at float32 on this model, one forward pass at a time."""
        with self.lock:
            return draw(self.module)

    def _module_at(self, precision: Precision) -> Method:
        """The module for ``precision``, cast on first use (call with ``lock`` held)."""
        from ssl_engine.inference import cast_for_autocast

        module = self.variants.get(precision)
        if module is None:
            module = cast_for_autocast(self.module, precision)
            if module is not self.module:
                self.nbytes += tensor_bytes(module)
            self.variants[precision] = module
        return module


def tensor_bytes(module: Method) -> int:
    """Bytes of a module's parameters and buffers."""
    tensors = [*module.parameters(), *module.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


@dataclass(frozen=True)
class CacheLimits:
    capacity: int = 4  # models
    budget_bytes: int = 2 << 30  # parameter + buffer bytes of all loaded models


class ModelCache:
    def __init__(
        self,
        limits: CacheLimits,
        device_name: str,
        batching: BatchingConfig,
        torch_threads: int = 0,
        precision: RequestedPrecision = "auto",
    ) -> None:
        self.limits = limits
        self.device_name = device_name
        self.batching = batching
        self.torch_threads = torch_threads
        self.precision = precision
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()  # guards _models and _loading
        self._loading: dict[str, threading.Lock] = {}  # one loader per model id

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(m.nbytes for m in self._models.values())

    def loaded_ids(self, tenant_id: str | None = None) -> list[str]:
        """Loaded model ids (of ``tenant_id`` only, when given), least recently used first."""
        with self._lock:
            return [
                model_id
                for model_id, loaded in self._models.items()
                if tenant_id is None or loaded.spec.tenant_id == tenant_id
            ]

    def spec_of(self, model_id: str) -> ModelSpec | None:
        """The spec of a loaded model whose row was seen within ``RECHECK_SECONDS`` (no
        database query needed), else None: the caller reads the row (a model deleted
        through another API process is then found gone) and calls ``confirm``."""
        with self._lock:
            loaded = self._models.get(model_id)
            if loaded is None or time.monotonic() - loaded.confirmed_at > RECHECK_SECONDS:
                return None
            return loaded.spec

    def confirm(self, model_id: str) -> None:
        """The model's row was just read: its cached spec may be used a while longer."""
        with self._lock:
            loaded = self._models.get(model_id)
            if loaded is not None:
                loaded.confirmed_at = time.monotonic()

    def evict(self, model_id: str, tenant_id: str) -> bool:
        """Unload ``tenant_id``'s model ``model_id`` (deleted) once its admitted requests are
        answered; another tenant's model of that id is left alone."""
        with self._lock:
            loaded = self._models.get(model_id)
            if loaded is None or loaded.spec.tenant_id != tenant_id:
                return False
            del self._models[model_id]
            self._update_gauges()
        metrics.CACHE_EVENTS.labels(model_id, "evict").inc()
        loaded.batcher.close()
        return True

    def peek(self, model_id: str) -> LoadedModel | None:
        """The model if it is loaded (a cache hit), without ever loading: safe on the loop."""
        with self._lock:
            return self._hit(model_id)

    def get(self, spec: ModelSpec) -> LoadedModel:
        """The loaded model for ``spec``, loading it on first use (blocking: call off-loop)."""
        with self._lock:
            loaded = self._hit(spec.model_id)
            if loaded is not None:
                return loaded
            loader = self._loading.setdefault(spec.model_id, threading.Lock())
        with loader:  # concurrent first requests wait for one load
            with self._lock:
                loaded = self._hit(spec.model_id)
            if loaded is not None:
                return loaded
            metrics.CACHE_EVENTS.labels(spec.model_id, "miss").inc()
            loaded = self._load(spec)
            with self._lock:
                self._models[spec.model_id] = loaded
                self._loading.pop(spec.model_id, None)
                evicted = self._evict_over_limits()
                self._update_gauges()
        for old in evicted:
            old.batcher.close()
        return loaded

    def close(self) -> None:
        """Stop every batcher (at shutdown)."""
        with self._lock:
            models = list(self._models.values())
            self._models.clear()
            self._update_gauges()
        for loaded in models:
            loaded.batcher.close()

    def _hit(self, model_id: str) -> LoadedModel | None:
        loaded = self._models.get(model_id)
        if loaded is not None:
            self._models.move_to_end(model_id)
            metrics.CACHE_EVENTS.labels(model_id, "hit").inc()
        return loaded

    def _evict_over_limits(self) -> list[LoadedModel]:
        evicted = []
        while len(self._models) > 1 and (
            len(self._models) > self.limits.capacity
            or sum(m.nbytes for m in self._models.values()) > self.limits.budget_bytes
        ):
            model_id, loaded = self._models.popitem(last=False)
            metrics.CACHE_EVENTS.labels(model_id, "evict").inc()
            evicted.append(loaded)
        return evicted

    def _update_gauges(self) -> None:
        metrics.CACHE_MODELS.set(len(self._models))
        metrics.CACHE_BYTES.set(sum(m.nbytes for m in self._models.values()))

    def _load(self, spec: ModelSpec) -> LoadedModel:
        import torch

        from ssl_engine.acceleration import resolve_device, serving_precision
        from ssl_engine.inference import load_for_inference

        if self.torch_threads:
            torch.set_num_threads(self.torch_threads)
        device = resolve_device(self.device_name)
        start = time.perf_counter()
        module = load_for_inference(spec.weights_path, spec.recipe, device)
        loaded = LoadedModel(
            spec=spec,
            module=module,
            device=device,
            precision=serving_precision(self.precision, device),
            nbytes=tensor_bytes(module),
            load_seconds=0.0,
        )
        with loaded.lock:
            loaded._module_at(loaded.precision)  # cast now: the first request is not slower
        loaded.load_seconds = time.perf_counter() - start
        loaded.batcher = DynamicBatcher(loaded.embed_batch, self.batching, spec.model_id)
        return loaded
