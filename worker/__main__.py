"""``python -m worker``: one Celery worker process, one task at a time (prefetch 1).

The API's CLI starts workers this way (``sslpt worker``, ``sslpt up``); it never imports
the worker's code.
"""

from __future__ import annotations

import argparse
import os

from api.core.queue import QUEUE


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument("--loglevel", default="INFO")
    args = parser.parse_args(argv)

    from worker.celery_app import celery_app

    celery_app.worker_main(
        [
            "worker",
            "--pool=solo",
            "--concurrency=1",
            f"--queues={QUEUE}",
            f"--loglevel={args.loglevel}",
            f"--hostname=sslpt-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
    )


if __name__ == "__main__":
    main()
