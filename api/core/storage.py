"""Bytes a tenant stores under the data directory: uploads, checkpoints, weights, exports,
embeddings (everything under its artifact folder). Registered folders and the shared
decoded-image cache count for no tenant."""

from __future__ import annotations

import os
from pathlib import Path

from api.core.artifacts import tenant_dir
from api.core.settings import Settings


def tree_bytes(root: Path) -> int:
    """Bytes of the regular files under ``root`` (links not followed; 0 if absent)."""
    total = 0
    stack = [root]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


def tenant_bytes(settings: Settings, tenant_id: str) -> int:
    return tree_bytes(tenant_dir(settings, tenant_id))
