"""``python -m worker``: one Celery worker process, one task at a time (prefetch 1).

The API's CLI starts workers this way (``sslpt worker``, ``sslpt up``); it never imports
the worker's code.
"""

from __future__ import annotations

import argparse
import os

from api.core.queue import GPU_QUEUE, QUEUE, QUEUES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument("--loglevel", default="INFO")
    parser.add_argument(
        "--queue",
        default=QUEUE,
        choices=QUEUES,
        help=f"{QUEUE}: training jobs, probes, dataset embeddings; "
        "sslpt-ingest: unpacking and scanning datasets (a process of its own)",
    )
    args = parser.parse_args(argv)
    os.umask(0o077)  # checkpoints, weights and unpacked uploads: this user's only

    from api.core.settings import get_settings
    from worker.celery_app import celery_app
    from worker.registration import Registration, describe_device

    settings = get_settings()
    queues = args.queue
    if args.queue == QUEUE and describe_device(settings.device)[0].startswith("cuda"):
        queues = f"{QUEUE},{GPU_QUEUE}"  # the jobs that need a GPU come to GPU workers only
    registration = Registration(settings, queues)
    registration.start()
    try:
        celery_app.worker_main(
            [
                "worker",
                "--pool=solo",
                "--concurrency=1",
                f"--queues={queues}",
                f"--loglevel={args.loglevel}",
                f"--hostname=sslpt-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
            ]
        )
    finally:  # a clean stop (SIGTERM, Ctrl-C); a killed worker is marked by its supervisor
        registration.stop("stopped")


if __name__ == "__main__":
    main()
