"""One benchmark run's numbers, as JSON between processes, and the tables made of them.

The main table has a row per run and, where a method (one side, one label) ran with
several seeds, a mean-over-seeds row after its runs. The baseline table gives each
backbone's kNN top-1 at random initialisation per seed: the number a method must beat.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from statistics import mean


@dataclass(frozen=True)
class RunResult:
    method: str  # registry name (with any override), or e.g. "moco_v2 (lightly)" for the peer
    backbone: str
    epochs: int
    random_init_top1: float  # kNN top-1 of the same backbone before any training
    knn_per_epoch: list[float]  # kNN top-1 after each epoch
    epoch_seconds: list[float]  # wall-clock of each training epoch, evaluation excluded
    eval_seconds: float  # wall-clock of the per-epoch kNN evaluations
    note: str = ""
    seed: int | None = None  # None in lines written before runs carried their seed

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
    "| method | backbone | seed | epochs | kNN top-1 | best epoch (top-1) | random init | "
    "gain (points) | train s | fastest epoch s |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _seed(run: RunResult) -> str:
    return "-" if run.seed is None else str(run.seed)


def table_row(run: RunResult) -> str:
    gain = 100 * (run.final_top1 - run.random_init_top1)
    best = max(run.knn_per_epoch)
    return (
        f"| {run.method} | {run.backbone} | {_seed(run)} | {run.epochs} | "
        f"{100 * run.final_top1:.1f} | {run.best_epoch} ({100 * best:.1f}) | "
        f"{100 * run.random_init_top1:.1f} | {gain:+.1f} | {run.train_seconds:.0f} | "
        f"{run.fastest_epoch_seconds:.1f} |"
    )


def mean_row(runs: list[RunResult]) -> str:
    """Means over seeds of one method's runs (same label, backbone and epochs); the best
    epoch is that of the mean accuracy curve."""
    first = runs[0]
    curve = [mean(values) for values in zip(*(run.knn_per_epoch for run in runs), strict=True)]
    best = max(curve)
    final = mean(run.final_top1 for run in runs)
    random_init = mean(run.random_init_top1 for run in runs)
    return (
        f"| {first.method} | {first.backbone} | mean of {len(runs)} | {first.epochs} | "
        f"{100 * final:.1f} | {curve.index(best) + 1} ({100 * best:.1f}) | "
        f"{100 * random_init:.1f} | {100 * (final - random_init):+.1f} | "
        f"{mean(run.train_seconds for run in runs):.0f} | "
        f"{mean(run.fastest_epoch_seconds for run in runs):.1f} |"
    )


def _groups(runs: list[RunResult]) -> list[list[RunResult]]:
    """Runs of the same label, backbone and epochs, in order of first appearance."""
    groups: dict[tuple[str, str, int], list[RunResult]] = {}
    for run in runs:
        groups.setdefault((run.method, run.backbone, run.epochs), []).append(run)
    return list(groups.values())


def table(runs: list[RunResult]) -> str:
    """Each method's runs together (ours, then lightly's, as they first ran), then its
    mean-over-seeds row where more than one seed ran."""
    lines = [HEADER]
    for group in _groups(runs):
        lines.extend(table_row(run) for run in group)
        if len({run.seed for run in group}) > 1:
            lines.append(mean_row(group))
    return "\n".join(lines)


def baseline_table(runs: list[RunResult]) -> str:
    """kNN top-1 of each backbone at random initialisation, per seed and on average.

    Runs with the same backbone and seed start from the same weights (ours and lightly's
    alike), so they agree; a range is shown if they do not."""
    by_backbone: dict[str, dict[int | None, list[float]]] = {}
    for run in runs:
        by_backbone.setdefault(run.backbone, {}).setdefault(run.seed, []).append(
            run.random_init_top1
        )
    lines = [
        "| backbone | seed | random-init kNN top-1 |",
        "|---|---:|---:|",
    ]
    for backbone, seeds in by_backbone.items():
        for seed, values in seeds.items():
            low, high = 100 * min(values), 100 * max(values)
            value = f"{low:.1f}" if high - low < 0.05 else f"{low:.1f} to {high:.1f}"
            lines.append(f"| {backbone} | {'-' if seed is None else seed} | {value} |")
        if len(seeds) > 1:
            average = 100 * mean(values[0] for values in seeds.values())
            lines.append(f"| {backbone} | mean of {len(seeds)} | {average:.1f} |")
    return "\n".join(lines)
