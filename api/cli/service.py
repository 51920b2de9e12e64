"""Running the service on this machine: ``sslpt up``, ``api``, ``worker`` and ``db upgrade``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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
def up() -> None:
    """Migrate, then run the API, one training worker and one ingest worker until Ctrl-C /
    SIGTERM (embedded default).

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
    children = [
        subprocess.Popen([sys.executable, "-m", "worker"], env=env),
        subprocess.Popen([sys.executable, "-m", "worker", f"--queue={INGEST_QUEUE}"], env=env),
        subprocess.Popen([sys.executable, "-m", "api.cli", "api"], env=env),
    ]
    # The key goes to a terminal only: stdout redirected to a log file would keep it there.
    shown = f"\n  {key}" if sys.stdout.isatty() else " (not printed: stdout is not a terminal)"
    console.print(
        f"[bold green]sslpt is up:[/bold green] {settings.resolved_api_url}  (API docs: /docs)\n"
        f"API key (tenant 'local', admin and operator) in {settings.local_key_file}{shown}\n"
        f"Datasets can be registered from: {os.pathsep.join(roots)}"
    )

    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping and all(c.poll() is None for c in children):
        time.sleep(0.5)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 60
    for child in children:
        try:
            child.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    if not stopping:
        raise typer.Exit(1)  # a child died on its own
    console.print("sslpt stopped")
