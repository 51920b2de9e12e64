"""Crash-safe training checkpoints for exact resume, and weight loading for serving.

Layout of a checkpoint directory::

    step-00000123/model.safetensors   method.state_dict() (weights, buffers, queues...)
    step-00000123/state.pt            optimizer, scheduler, data position, RNG states,
                                      SHA-256 of model.safetensors
    latest                            name of the newest complete checkpoint

A checkpoint is written into a hidden temporary directory, its files fsynced, then the
directory is renamed into place and ``latest`` replaced atomically, so a crash at any
moment leaves either the old or the new checkpoint whole. ``load_latest`` still verifies
the hash and falls back to the previous checkpoint if the newest one is damaged (a disk
that lied about fsync, a copy that was cut short). The newest ``keep`` (default ``KEEP``)
are kept.

``state.pt`` holds only tensors and plain containers, so it loads with
``torch.load(weights_only=True)``: no arbitrary unpickling.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

logger = logging.getLogger(__name__)

KEEP = 2
MODEL_FILE = "model.safetensors"
STATE_FILE = "state.pt"
LATEST_FILE = "latest"
_STEP_DIR = re.compile(r"^step-(\d{8,})$")
_TMP_PREFIX = ".tmp-"


@dataclass
class TrainingState:
    """Everything needed to continue a run exactly where a checkpoint left it.

    ``epoch`` and ``step_in_epoch`` are the position to continue from: the next batch is
    batch ``step_in_epoch`` of epoch ``epoch``. ``step`` counts optimizer steps done.
    """

    path: Path
    step: int
    epoch: int
    step_in_epoch: int
    model: dict[str, Tensor]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    rng_cpu: Tensor
    rng_cuda: list[Tensor]


class CheckpointWriteError(RuntimeError):
    """Writing a checkpoint failed (a full disk, a failing device). Nothing was renamed
    into place and the temporary files are gone, so the previous checkpoints are intact."""

    def __init__(self, step: int, cause: BaseException) -> None:
        super().__init__(f"could not write the checkpoint of step {step}: {cause}")
        self.step = step


def step_dir_name(step: int) -> str:
    return f"step-{step:08d}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _plain_tensors(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """CPU, contiguous, unshared copies: safetensors refuses views and shared storage."""
    return {
        key: value.detach().to("cpu").clone(memory_format=torch.contiguous_format)
        for key, value in state_dict.items()
    }


def save_checkpoint(
    checkpoint_dir: Path,
    *,
    model: nn.Module,
    optimizer: Optimizer,
    scheduler: LRScheduler,
    step: int,
    epoch: int,
    step_in_epoch: int,
    keep: int = KEEP,
) -> Path:
    """Write ``step-<step>/`` atomically, point ``latest`` at it, keep the newest ``keep``.

    Raises CheckpointWriteError if the files cannot be written; the previous
    checkpoints stay as they were.
    """
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    tmp = checkpoint_dir / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
    try:
        tmp.mkdir()
        model_path = tmp / MODEL_FILE
        save_file(_plain_tensors(model.state_dict()), str(model_path))
        _fsync_file(model_path)
        state = {
            "step": step,
            "epoch": epoch,
            "step_in_epoch": step_in_epoch,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "model_sha256": sha256_file(model_path),
        }
        torch.save(state, tmp / STATE_FILE)
        _fsync_file(tmp / STATE_FILE)
        _fsync_dir(tmp)
    # A full disk surfaces as OSError, as torch's RuntimeError or as safetensors' own error.
    except Exception as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointWriteError(step, error) from error

    final = checkpoint_dir / step_dir_name(step)
    if final.exists():  # the same step saved again (e.g. stopped right after a resume)
        shutil.rmtree(final)
    tmp.rename(final)
    _write_latest(checkpoint_dir, final.name)
    _prune(checkpoint_dir, step, keep)
    return final


def _write_latest(checkpoint_dir: Path, name: str) -> None:
    tmp = checkpoint_dir / f"{_TMP_PREFIX}{LATEST_FILE}-{uuid.uuid4().hex}"
    with tmp.open("w") as f:
        f.write(name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, checkpoint_dir / LATEST_FILE)
    _fsync_dir(checkpoint_dir)


def _step_dirs(checkpoint_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every complete-looking checkpoint directory, newest first."""
    found = []
    for path in checkpoint_dir.iterdir():
        match = _STEP_DIR.match(path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    return sorted(found, reverse=True)


def _prune(checkpoint_dir: Path, current_step: int, keep: int) -> None:
    """Keep the newest ``keep`` checkpoints up to ``current_step``; drop the rest.

    Directories past ``current_step`` belong to an abandoned run (the training resumed
    from an older checkpoint because they were damaged), and leftovers of interrupted
    writes are garbage.
    """
    kept = 0
    for step, path in _step_dirs(checkpoint_dir):
        if step <= current_step and kept < keep:
            kept += 1
        else:
            shutil.rmtree(path, ignore_errors=True)
    for path in checkpoint_dir.glob(f"{_TMP_PREFIX}*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _read(path: Path) -> TrainingState:
    """Load and verify one checkpoint; raises ValueError if it is damaged."""
    state = torch.load(path / STATE_FILE, map_location="cpu", weights_only=True)
    if sha256_file(path / MODEL_FILE) != state["model_sha256"]:
        raise ValueError(f"{path / MODEL_FILE} does not match the hash in {STATE_FILE}")
    return TrainingState(
        path=path,
        step=state["step"],
        epoch=state["epoch"],
        step_in_epoch=state["step_in_epoch"],
        model=load_file(str(path / MODEL_FILE), device="cpu"),
        optimizer=state["optimizer"],
        scheduler=state["scheduler"],
        rng_cpu=state["rng_cpu"],
        rng_cuda=state["rng_cuda"],
    )


def load_latest(checkpoint_dir: Path) -> TrainingState | None:
    """The newest checkpoint that verifies, or None if there is none.

    Candidates are tried newest step first; ``latest`` is a pointer for readers, but the
    directories themselves decide, so a crash between the rename and the pointer update
    loses nothing.
    """
    if not checkpoint_dir.is_dir():
        return None
    for _, path in _step_dirs(checkpoint_dir):
        try:
            return _read(path)
        # A torn file can fail anywhere in torch's unpickler or safetensors' parser, with
        # errors from IndexError to UnpicklingError; any of them means "damaged".
        except Exception as e:
            logger.warning("skipping damaged checkpoint %s: %r", path, e)
    return None


def load_model_weights(path: Path, method: nn.Module) -> None:
    """Load ``model.safetensors`` (or a checkpoint directory holding one) strictly."""
    if path.is_dir():
        path = path / MODEL_FILE
    method.load_state_dict(load_file(str(path), device="cpu"), strict=True)
