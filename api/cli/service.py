"""Running the service on this machine: ``sslpt up``, ``api``, ``worker`` and ``db upgrade``."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api.cli.supervisor import Child, ChildSpec, Supervisor, describe_exit
from api.core.queue import INGEST_QUEUE, QUEUE, QUEUES
from api.core.settings import Settings, get_settings

app = typer.Typer()
db_app = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: newest)."""
    from api.core.persistence.migrate import upgrade

    private_files()
    settings = get_settings()
    upgrade(settings.resolved_database_url, revision)
    console.print(f"database at {settings.resolved_database_url} is at revision {revision}")


def private_files() -> None:
    """Files and folders this process creates are its user's only (0600 / 0700): the
    database, uploads and artifacts hold other people's data. Children inherit it."""
    os.umask(0o077)


@app.command("api")
def run_api() -> None:
    """Serve the HTTP API (uvicorn) on SSLPT_HOST:SSLPT_PORT."""
    import uvicorn

    from api.access_log import without_query_strings

    private_files()
    settings = get_settings()
    # OpenMP's threads sleep between the model's operations instead of spinning: in a
    # server they would spin on the cores the event loop needs between small batches
    # (bench/RESULTS.md, "Serving fast path"). Read when torch loads, which is below.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=without_query_strings(),
    )


@app.command("worker")
def run_worker(
    loglevel: str = "INFO",
    queue: Annotated[
        str,
        typer.Option(
            help=f"{QUEUE}: training jobs, probes, dataset embeddings; {INGEST_QUEUE}: "
            "unpacking and scanning datasets (run one such worker beside the others)."
        ),
    ] = QUEUE,
) -> None:
    """Run one Celery worker process (``python -m worker``): one task at a time."""
    if queue not in QUEUES:
        raise typer.BadParameter(f"--queue must be one of {list(QUEUES)}")
    command = [sys.executable, "-m", "worker", f"--loglevel={loglevel}", f"--queue={queue}"]
    os.execv(sys.executable, command)


def _local_key(settings: Settings) -> str:
    """The embedded mode's key: the one in ``local_key_file`` if still live and the
    operator's, else a new operator and admin key of the ``local`` tenant, written there
    (owner-only) for the CLI. A key of an older install without the operator scope is
    replaced (it stays live as a tenant admin key until revoked)."""
    from api.core.persistence import api_keys
    from api.core.persistence.db import session_scope
    from api.core.persistence.tables import LOCAL_TENANT

    path = settings.local_key_file
    with session_scope(settings.resolved_database_url, tenant=None) as session:
        if path.is_file():
            known = api_keys.authenticate(session, path.read_text().strip())
            if known is not None and known.operator:
                return path.read_text().strip()
        created = api_keys.create_key(
            session, LOCAL_TENANT, name="sslpt up", admin=True, operator=True
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(created.secret + "\n")
    return created.secret


@app.command("up")
def up(
    workers: Annotated[
        int, typer.Option(min=1, help="Training workers; each runs one job at a time.")
    ] = 1,
    gpus_per_worker: Annotated[
        int,
        typer.Option(
            min=0, help="GPUs each training worker sees (CUDA_VISIBLE_DEVICES), on GPU machines."
        ),
    ] = 1,
) -> None:
    """Migrate, then run the API, the training workers and one ingest worker until Ctrl-C /
    SIGTERM (embedded default), restarting any of them that exits on its own.

    Single-user mode: prints the local API key (created on first start) and, unless
    SSLPT_DATASET_ROOTS says otherwise, lets folders under your home folder be registered.
    """
    settings = get_settings()
    private_files()
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)
    db_upgrade()
    key = _local_key(settings)
    env = dict(os.environ)
    roots = [str(r) for r in settings.dataset_roots]
    if not roots:
        roots = [str(Path.home())]
        env["SSLPT_DATASET_ROOTS"] = roots[0]
    specs = [
        *training_workers(env, workers, gpus_per_worker),
        ChildSpec("ingest", [sys.executable, "-m", "worker", f"--queue={INGEST_QUEUE}"], env),
        ChildSpec("api", [sys.executable, "-m", "api.cli", "api"], env),
    ]
    supervisor = Supervisor(specs, on_exit=functools.partial(child_exited, settings))
    supervisor.start()
    # The key goes to a terminal only: stdout redirected to a log file would keep it there.
    shown = f"\n  {key}" if sys.stdout.isatty() else " (not printed: stdout is not a terminal)"
    console.print(
        f"[bold green]sslpt is up:[/bold green] {settings.resolved_api_url}  (API docs: /docs)\n"
        f"API key (tenant 'local', admin and operator) in {settings.local_key_file}{shown}\n"
        f"Datasets can be registered from: {os.pathsep.join(roots)}\n"
        f"{workers} training worker(s), 1 ingest worker; a process that exits is restarted"
    )

    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        supervisor.poll()
        time.sleep(0.2)
    supervisor.stop()
    console.print("sslpt stopped")


def training_workers(env: dict[str, str], count: int, gpus_per_worker: int) -> list[ChildSpec]:
    """``count`` training workers sharing the machine: each gets ``cores // count`` torch
    threads unless SSLPT_TORCH_THREADS is set, and on a GPU machine ``gpus_per_worker`` of
    the visible GPUs (round-robin when there are fewer than asked for)."""
    gpus = visible_gpus(env)
    specs = []
    for index in range(count):
        worker_env = dict(env)
        if not env.get("SSLPT_TORCH_THREADS"):
            worker_env["SSLPT_TORCH_THREADS"] = str(max(1, (os.cpu_count() or 1) // count))
        if gpus:
            first = index * gpus_per_worker
            mine = [gpus[(first + i) % len(gpus)] for i in range(gpus_per_worker)]
            worker_env["CUDA_VISIBLE_DEVICES"] = ",".join(mine)
        specs.append(ChildSpec(f"worker-{index + 1}", [sys.executable, "-m", "worker"], worker_env))
    return specs


def visible_gpus(env: dict[str, str]) -> list[str]:
    """The GPU ids CUDA_VISIBLE_DEVICES names, else those ``nvidia-smi -L`` lists (none on
    a machine without it): found without importing torch into the supervisor."""
    if "CUDA_VISIBLE_DEVICES" in env:
        return [g.strip() for g in env["CUDA_VISIBLE_DEVICES"].split(",") if g.strip()]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    lines = [line for line in listed.stdout.splitlines() if line.startswith("GPU ")]
    return [str(i) for i in range(len(lines))]


def child_exited(settings: Settings, child: Child, returncode: int) -> None:
    """A worker that exited on its own held leases under ``host:pid``: end them now and
    re-queue its work at once, instead of after the lease runs out."""
    if child.spec.name == "api" or child.pid is None:
        return
    from api.core.persistence import workers
    from api.core.persistence.db import session_scope
    from api.core.persistence.leases import expire_leases_of, lease_owner
    from api.core.queue import create_celery
    from api.reconciler import reconcile_once

    owner = lease_owner(child.pid)
    reason = f"worker {owner} was {describe_exit(returncode)}"
    with session_scope(settings.resolved_database_url, tenant=None) as session:
        workers.mark_stopped(session, owner, describe_exit(returncode))
        held = expire_leases_of(session, owner, reason)
    console.print(f"[yellow]{child.spec.name}: {reason}[/yellow]; {held} task(s) re-queued")
    if held:
        celery = create_celery(settings)
        for _ in range(20):  # another reconciler's pass may hold the lock for a moment
            if reconcile_once(settings, celery) is not None:
                break
            time.sleep(0.5)
