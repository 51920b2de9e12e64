"""An LRU cache of loaded models: the first request loads, later requests reuse."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from ssl_engine.methods.base import Method


@dataclass(frozen=True)
class ModelSpec:
    """What it takes to rebuild a trained model for inference."""

    model_id: str
    method: str
    backbone: str
    image_size: int
    hyperparameters: dict[str, Any]
    weights_path: Path


@dataclass
class LoadedModel:
    spec: ModelSpec
    module: Method
    device: torch.device
    lock: threading.Lock  # one forward at a time per model (BatchNorm buffers, threads)


class ModelCache:
    def __init__(self, capacity: int, device_name: str) -> None:
        self.capacity = capacity
        self.device_name = device_name
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, spec: ModelSpec) -> LoadedModel:
        with self._lock:
            loaded = self._models.get(spec.model_id)
            if loaded is not None:
                self._models.move_to_end(spec.model_id)
                return loaded
            loaded = self._load(spec)
            self._models[spec.model_id] = loaded
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
            return loaded

    def _load(self, spec: ModelSpec) -> LoadedModel:
        import torch

        from ssl_engine.inference import load_for_inference

        if self.device_name == "auto":
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        else:
            device = torch.device(self.device_name)
        module = load_for_inference(
            spec.weights_path,
            method=spec.method,
            backbone=spec.backbone,
            image_size=spec.image_size,
            hyperparameters=spec.hyperparameters,
            device=device,
        )
        return LoadedModel(spec=spec, module=module, device=device, lock=threading.Lock())
