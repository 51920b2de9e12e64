"""What an API process killed mid-upload leaves in ``incoming/`` is swept by the reconciler."""

from __future__ import annotations

import os
import time

from api.core.artifacts import incoming_dir
from api.core.incoming import STALE_AFTER_SECONDS
from api.core.settings import Settings
from api.reconciler import reconcile_once


class NoBroker:
    def send_task(self, *_args: object, **_kwargs: object) -> None:
        raise AssertionError("nothing to send")


def test_stale_upload_leftovers_are_removed_and_fresh_ones_kept(settings: Settings) -> None:
    incoming = incoming_dir(settings, "team-a")
    stale_archive = incoming / "a.upload"
    stale_archive.write_bytes(b"half an archive")
    stale_unpacked = incoming / "a.d" / "cls"
    stale_unpacked.mkdir(parents=True)
    (stale_unpacked / "x.png").write_bytes(b"png")
    fresh = incoming / "b.upload"
    fresh.write_bytes(b"arriving now")
    old = time.time() - STALE_AFTER_SECONDS - 60
    for path in (stale_archive, incoming / "a.d"):
        os.utime(path, (old, old))

    assert reconcile_once(settings, NoBroker()) == []  # type: ignore[arg-type]
    assert sorted(p.name for p in incoming.iterdir()) == ["b.upload"]
