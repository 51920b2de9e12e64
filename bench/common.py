"""Helpers shared by the benchmarks: CIFAR-10 on disk, timing, and the machine's name.

Benchmarks are scripts, not tests: they print numbers and write nothing but
``bench/out/`` (gitignored), where the extracted data and image caches live between runs.
"""

from __future__ import annotations

import os
import platform
import statistics
import tarfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PEER_PYTHON = ROOT / "bench" / ".venv-peer" / "bin" / "python"
CIFAR_TAR = ROOT.parent / "shared" / "datasets" / "cifar10" / "train.tar"


def extract_cifar(tar: Path = CIFAR_TAR, destination: Path = OUT / "cifar10") -> Path:
    """The CIFAR-10 training set as class folders (``<destination>/train/<class>/*.jpg``).

    Extracted once; a marker file written last tells a complete extraction from a
    crashed one.
    """
    folder, marker = destination / "train", destination / ".extracted"
    if not marker.exists():
        if not tar.exists():
            raise SystemExit(f"{tar} not found: the benchmarks need CIFAR-10's train.tar there")
        destination.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tar) as archive:
            archive.extractall(destination, filter="data")
        marker.write_text(str(tar))
    return folder


def class_subset(source: Path, destination: Path, per_class: int) -> Path:
    """The first ``per_class`` files (sorted) of every class folder of ``source``, hard-linked.

    A small labeled dataset with the same images, for runs that must finish an epoch.
    """
    marker = destination / f".subset-{per_class}"
    if not marker.exists():
        for class_dir in sorted(p for p in source.iterdir() if p.is_dir()):
            target = destination / class_dir.name
            target.mkdir(parents=True, exist_ok=True)
            for file in sorted(class_dir.iterdir())[:per_class]:
                if not (target / file.name).exists():
                    os.link(file, target / file.name)
        marker.write_text(str(source))
    return destination


def process_tree_cpu_seconds() -> float:
    """CPU seconds (user + system) this process and its live child processes have used.

    Counts DataLoader worker processes too. Other jobs on a shared machine slow the wall
    clock but barely change the CPU time a step costs, so images per CPU second tells
    two sides apart even under load (Linux only: it reads /proc).
    """
    total = time.process_time()
    for pid in _child_pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the child exited meanwhile
            continue
        # After the command name: state is field 3, utime and stime are fields 14 and 15.
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _child_pids() -> list[int]:
    pids: list[int] = []
    for task in Path("/proc/self/task").iterdir():
        try:
            pids.extend(int(pid) for pid in (task / "children").read_text().split())
        except OSError:
            continue
    return pids


@dataclass
class StepClock:
    """Wall and CPU time at the end of each step; rates over the steps after warm-up.

    The first ``warmup_steps`` (at least one, so the clock has a start) are not timed.
    """

    warmup_steps: int
    stamps: list[float] = field(default_factory=list)
    cpu_stamps: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.warmup_steps < 1:
            raise ValueError(f"warmup_steps must be >= 1, got {self.warmup_steps}")

    def tick(self) -> None:
        self.stamps.append(time.perf_counter())
        self.cpu_stamps.append(process_tree_cpu_seconds())

    @property
    def steps(self) -> int:
        return len(self.stamps)

    def images_per_sec(self, batch_size: int) -> float:
        """Images/s from the end of the last warm-up step to the end of the last step."""
        return self._timed_images(batch_size) / self._span(self.stamps)

    def images_per_cpu_sec(self, batch_size: int) -> float:
        """Images per CPU second over the same steps (all threads and child processes)."""
        return self._timed_images(batch_size) / self._span(self.cpu_stamps)

    def _timed_images(self, batch_size: int) -> int:
        timed = self.steps - self.warmup_steps
        if timed < 1:
            raise ValueError(f"only {self.steps} steps for {self.warmup_steps} warm-up steps")
        return timed * batch_size

    def _span(self, stamps: list[float]) -> float:
        return stamps[-1] - stamps[self.warmup_steps - 1]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def load_average() -> str:
    """The 1/5/15-minute load averages: other processes on the machine skew timings."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> str:
    """CPU model and core count, and the GPU when there is one, with the torch version."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    text = f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name()}"
    return text
