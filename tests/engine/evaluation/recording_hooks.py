"""Trainer hooks that keep every metric and event, for assertions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ssl_engine.trainer import NullHooks


@dataclass
class Recorder(NullHooks):
    metrics: list[tuple[int, int, dict[str, float]]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def on_metrics(self, step: int, epoch: int, metrics: dict[str, float]) -> None:
        self.metrics.append((step, epoch, metrics))

    def on_event(self, kind: str, message: str) -> None:
        self.events.append(kind)

    def on_checkpoint(self, path: Path, step: int, epoch: int) -> None:
        pass
