"""One benchmark run's numbers, as JSON between processes and as a row of the table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RunResult:
    method: str  # registry name, or "simclr (lightly)" for the peer
    backbone: str
    epochs: int
    random_init_top1: float  # kNN top-1 of the same backbone before any training
    knn_per_epoch: list[float]  # kNN top-1 after each epoch
    epoch_seconds: list[float]  # wall-clock of each training epoch, evaluation excluded
    eval_seconds: float  # wall-clock of the per-epoch kNN evaluations
    note: str = ""

    @property
    def train_seconds(self) -> float:
        return sum(self.epoch_seconds)

    @property
    def fastest_epoch_seconds(self) -> float:
        """The least disturbed epoch: on a shared machine, the best estimate of its speed."""
        return min(self.epoch_seconds)

    @property
    def final_top1(self) -> float:
        return self.knn_per_epoch[-1]

    @property
    def best_epoch(self) -> int:
        """1-based epoch of the highest kNN top-1 (the earliest on ties)."""
        return self.knn_per_epoch.index(max(self.knn_per_epoch)) + 1

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunResult:
        return cls(**json.loads(text))


HEADER = (
    "| method | backbone | epochs | kNN top-1 | best epoch (top-1) | random init | "
    "gain (points) | train s | fastest epoch s |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|"
)


def table_row(run: RunResult) -> str:
    gain = 100 * (run.final_top1 - run.random_init_top1)
    best = max(run.knn_per_epoch)
    return (
        f"| {run.method} | {run.backbone} | {run.epochs} | {100 * run.final_top1:.1f} | "
        f"{run.best_epoch} ({100 * best:.1f}) | {100 * run.random_init_top1:.1f} | "
        f"{gain:+.1f} | {run.train_seconds:.0f} | {run.fastest_epoch_seconds:.1f} |"
    )


def table(runs: list[RunResult]) -> str:
    return "\n".join([HEADER, *(table_row(run) for run in runs)])
