"""Where uploads wait while they stream and unpack, and the sweep of what a crash left.

An upload is written to ``<tenant>/incoming/<id>.upload``, unpacked into
``<tenant>/incoming/<id>.d`` and, once scanned, renamed to ``<tenant>/datasets/<id>``.
The request removes its own files whatever happens to it; an API process killed
mid-upload cannot, so the reconciler removes anything older than ``STALE_AFTER`` here.
"""

from __future__ import annotations

import shutil
import time

from api.core.artifacts import tenants_root
from api.core.settings import Settings

STALE_AFTER_SECONDS = 6 * 3600  # far longer than any upload takes


def sweep_stale_uploads(settings: Settings, older_than: float = STALE_AFTER_SECONDS) -> int:
    """Remove upload leftovers not touched for ``older_than`` seconds; how many."""
    removed = 0
    cutoff = time.time() - older_than
    for entry in tenants_root(settings).glob("*/incoming/*"):
        try:
            if entry.lstat().st_mtime >= cutoff:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
        except FileNotFoundError:  # its request, or another API process, got there first
            continue
    return removed
