"""Each epoch's picture of a job whose method makes images (samples of a generative
method, else reconstructions of the first training images), written where the job's
artifacts live, so it counts in the job's stored bytes and goes when the job is deleted."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from torch import Tensor

from api.core.artifacts import picture_path
from ssl_engine.methods.base import Method
from ssl_engine.pictures import epoch_picture_png


def epoch_pictures(folder: Path, first_images: Tensor) -> Callable[[int, Method], None]:
    """The trainer's ``epoch_end``: draw the epoch's picture and store it atomically (a
    reader never sees half a PNG; a resumed epoch replaces its picture)."""

    def draw(epoch: int, method: Method) -> None:
        png = epoch_picture_png(method, first_images)
        folder.mkdir(parents=True, exist_ok=True)
        target = picture_path(folder, epoch)
        partial = target.with_suffix(".part")
        partial.write_bytes(png)
        os.replace(partial, target)

    return draw
