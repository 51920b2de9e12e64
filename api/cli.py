"""The ``sslpt`` command: run the service (up, api, worker, db) and use it over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from api.client import ApiClientError, SslptClient
from api.core.settings import Settings, get_settings

app = typer.Typer(help="Self-supervised pretraining service.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)
datasets_app = typer.Typer(help="Register, upload and list datasets.", no_args_is_help=True)
keys_app = typer.Typer(
    help="API keys, straight in the database (for the server's operator).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(datasets_app, name="datasets")
app.add_typer(keys_app, name="keys")
console = Console()
err_console = Console(stderr=True)

FINISHED = {"succeeded", "failed", "cancelled"}
ApiUrl = Annotated[
    str | None, typer.Option("--api-url", envvar="SSLPT_API_URL", help="API base URL.")
]


def _client(api_url: str | None) -> SslptClient:
    """A client with SSLPT_API_KEY, else the key ``sslpt up`` wrote for this machine."""
    settings = get_settings()
    key = settings.api_key
    if key is None and settings.local_key_file.is_file():
        key = settings.local_key_file.read_text().strip()
    return SslptClient(api_url or settings.resolved_api_url, api_key=key)


def _print_json(data: Any) -> None:
    console.print_json(json.dumps(data))


def _fail(error: ApiClientError) -> typer.Exit:
    err_console.print(f"[red]error[/red] {error.status} {error.code}: {error.message}")
    if error.details:
        err_console.print_json(json.dumps(error.details))
    return typer.Exit(1)


# ---- running the service ----------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: newest)."""
    from api.core.persistence.migrate import upgrade

    settings = get_settings()
    upgrade(settings.resolved_database_url, revision)
    console.print(f"database at {settings.resolved_database_url} is at revision {revision}")


@app.command("api")
def run_api() -> None:
    """Serve the HTTP API (uvicorn) on SSLPT_HOST:SSLPT_PORT."""
    import uvicorn

    settings = get_settings()
    uvicorn.run("api.main:create_app", factory=True, host=settings.host, port=settings.port)


@app.command("worker")
def run_worker(loglevel: str = "INFO") -> None:
    """Run one Celery worker process (``python -m worker``): one job at a time."""
    os.execv(sys.executable, [sys.executable, "-m", "worker", f"--loglevel={loglevel}"])


def _local_key(settings: Settings) -> str:
    """The embedded mode's key: the one in ``local_key_file`` if still live, else a new
    admin key of the ``local`` tenant, written there (owner-only) for the CLI."""
    from api.core.persistence import api_keys
    from api.core.persistence.db import session_scope
    from api.core.persistence.tables import LOCAL_TENANT

    path = settings.local_key_file
    with session_scope(settings.resolved_database_url, tenant=None) as session:
        if path.is_file() and api_keys.authenticate(session, path.read_text().strip()):
            return path.read_text().strip()
        created = api_keys.create_key(session, LOCAL_TENANT, name="sslpt up", admin=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(created.secret + "\n")
    return created.secret


@app.command("up")
def up() -> None:
    """Migrate, then run the API and one worker until Ctrl-C / SIGTERM (embedded default).

    Single-user mode: prints the local API key (created on first start) and, unless
    SSLPT_DATASET_ROOTS says otherwise, lets folders under your home folder be registered.
    """
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db_upgrade()
    key = _local_key(settings)
    env = dict(os.environ)
    roots = [str(r) for r in settings.dataset_roots]
    if not roots:
        roots = [str(Path.home())]
        env["SSLPT_DATASET_ROOTS"] = roots[0]
    children = [
        subprocess.Popen([sys.executable, "-m", "worker"], env=env),
        subprocess.Popen([sys.executable, "-m", "api.cli", "api"], env=env),
    ]
    console.print(
        f"[bold green]sslpt is up:[/bold green] {settings.resolved_api_url}  (API docs: /docs)\n"
        f"API key (tenant 'local', admin; also in {settings.local_key_file}):\n  {key}\n"
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


# ---- API keys (on the server, against the database) ------------------------------


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="The tenant (team); created if new.")],
    name: Annotated[str, typer.Option(help="A label: who or what holds the key.")] = "",
    admin: Annotated[bool, typer.Option(help="May manage tenants and keys over HTTP.")] = False,
) -> None:
    """Create a key and print it (once: only its hash is stored)."""
    from api.core.persistence import api_keys
    from api.core.persistence.db import session_scope

    settings = get_settings()
    try:
        with session_scope(settings.resolved_database_url, tenant=None) as session:
            created = api_keys.create_key(session, tenant, name=name, admin=admin)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    err_console.print(
        f"key {created.row.prefix}... for tenant {tenant!r}{' (admin)' if admin else ''}; "
        "store it now, it cannot be shown again:"
    )
    print(created.secret)


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
) -> None:
    """Every key: prefix, tenant, scope, last use, revoked or not."""
    from api.core.persistence import api_keys
    from api.core.persistence.db import session_scope

    table = Table("id", "prefix", "tenant", "name", "admin", "last used", "revoked")
    with session_scope(get_settings().resolved_database_url, tenant=None) as session:
        for key in api_keys.list_keys(session, tenant):
            table.add_row(
                key.id,
                key.prefix,
                key.tenant_id,
                key.name,
                "yes" if key.admin else "",
                _when(key.last_used_at),
                _when(key.revoked_at),
            )
    console.print(table)


def _when(moment: datetime | None) -> str:
    return moment.isoformat(sep=" ", timespec="seconds") if moment else ""


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="The key's id or prefix.")]) -> None:
    """Revoke a key: its next request is refused (401)."""
    from api.core.persistence import api_keys
    from api.core.persistence.db import session_scope

    with session_scope(get_settings().resolved_database_url, tenant=None) as session:
        row = api_keys.find_key(session, key)
        if row is None:
            err_console.print(f"[red]error[/red] no key with id or prefix {key!r}")
            raise typer.Exit(1)
        revoked = api_keys.revoke_key(session, row.id)
    console.print(f"key {row.prefix}... {'revoked' if revoked else 'was already revoked'}")


# ---- using the service ------------------------------------------------------------


@app.command("methods")
def list_methods(api_url: ApiUrl = None) -> None:
    """List the SSL methods the server offers."""
    try:
        methods = _client(api_url).methods()
    except ApiClientError as error:
        raise _fail(error) from error
    table = Table("name", "family", "collapse prevention", "paper")
    for m in methods:
        table.add_row(m["name"], m["family"], m["collapse_prevention"], m["paper"])
    console.print(table)


@datasets_app.command("add")
def datasets_add(name: str, path: Path, api_url: ApiUrl = None) -> None:
    """Register a folder of images on the server (class sub-folders become labels)."""
    try:
        dataset = _client(api_url).add_dataset(name, str(path.expanduser().resolve()))
    except ApiClientError as error:
        raise _fail(error) from error
    _print_json(dataset)


@datasets_app.command("upload")
def datasets_upload(name: str, archive: Path, api_url: ApiUrl = None) -> None:
    """Upload a zip or tar(.gz) of images as a new dataset (folders become labels)."""
    try:
        dataset = _client(api_url).upload_dataset(name, archive)
    except ApiClientError as error:
        raise _fail(error) from error
    _print_json(dataset)


@datasets_app.command("list")
def datasets_list(api_url: ApiUrl = None) -> None:
    """List registered datasets."""
    try:
        page = _client(api_url).datasets()
    except ApiClientError as error:
        raise _fail(error) from error
    table = Table("id", "name", "images", "classes", "unreadable")
    for d in page["items"]:
        table.add_row(
            d["id"],
            d["name"],
            str(d["image_count"]),
            str(len(d["classes"])),
            str(d["unreadable_count"]),
        )
    console.print(table)


def _parse_params(params: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in params:
        key, sep, raw = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


@app.command("submit")
def submit(
    dataset: Annotated[str, typer.Option(help="Dataset id.")],
    method: Annotated[str, typer.Option(help="Method name (sslpt methods).")] = "simclr",
    epochs: int = 10,
    batch_size: int = 128,
    backbone: str | None = None,
    image_size: int | None = None,
    seed: int = 0,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Hyperparameter KEY=VALUE.")
    ] = None,
    idempotency_key: str | None = None,
    api_url: ApiUrl = None,
) -> None:
    """Submit a pretraining job; prints its id."""
    spec: dict[str, Any] = {
        "method": method,
        "dataset_id": dataset,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "hyperparameters": _parse_params(param or []),
    }
    if backbone:
        spec["backbone"] = backbone
    if image_size:
        spec["image_size"] = image_size
    try:
        job = _client(api_url).submit(spec, idempotency_key)
    except ApiClientError as error:
        raise _fail(error) from error
    console.print(job["id"])


@app.command("jobs")
def list_jobs(
    status: Annotated[list[str] | None, typer.Option(help="Filter by status (repeatable).")] = None,
    api_url: ApiUrl = None,
) -> None:
    """List jobs, newest first."""
    try:
        page = _client(api_url).jobs(status)
    except ApiClientError as error:
        raise _fail(error) from error
    table = Table("id", "method", "status", "progress", "model")
    for j in page["items"]:
        table.add_row(
            j["id"],
            j["method"],
            j["status"],
            f"{j['progress']['fraction']:.0%}",
            j["model_id"] or "",
        )
    console.print(table)


@app.command("job")
def show_job(job_id: str, api_url: ApiUrl = None) -> None:
    """Show one job as JSON."""
    try:
        _print_json(_client(api_url).job(job_id))
    except ApiClientError as error:
        raise _fail(error) from error


@app.command("cancel")
def cancel(job_id: str, api_url: ApiUrl = None) -> None:
    """Ask a job to stop (it checkpoints first)."""
    try:
        job = _client(api_url).cancel(job_id)
    except ApiClientError as error:
        raise _fail(error) from error
    console.print(f"{job_id}: {job['status']}")


@app.command("watch")
def watch(job_id: str, interval: float = 2.0, api_url: ApiUrl = None) -> None:
    """Show a progress bar until the job ends; exit code 0 only if it succeeded."""
    client = _client(api_url)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(job_id[:8], total=1.0, info="")
        while True:
            try:
                job = client.job(job_id)
            except ApiClientError as error:
                raise _fail(error) from error
            p = job["progress"]
            speed = f"{p['images_per_sec']:.0f} img/s" if p["images_per_sec"] else ""
            loss = job["latest_metrics"].get("loss")
            epoch = min(p["epoch"] + 1, job["epochs"])
            info = (
                f"{job['status']} {p['fraction']:.0%} step {p['step']}/{p['total_steps']} "
                f"epoch {epoch}/{job['epochs']} {speed}"
            )
            if p["eta_seconds"] is not None and job["status"] not in FINISHED:
                info += f" ETA {timedelta(seconds=round(p['eta_seconds']))}"  # the server's
            if loss is not None:
                info += f" loss {loss:.4f}"
            bar.update(task, completed=p["fraction"], info=info)
            if job["status"] in FINISHED:
                break
            time.sleep(interval)
    if job["status"] != "succeeded":
        err_console.print(f"job {job_id} {job['status']}: {job['failure_reason'] or ''}")
        raise typer.Exit(1)
    console.print(f"job {job_id} succeeded; model {job['model_id']}")


@app.command("embed")
def embed(
    model_id: str,
    files: list[Path],
    normalize: bool = False,
    api_url: ApiUrl = None,
) -> None:
    """Embed image FILES with a trained model; prints the JSON response."""
    try:
        _print_json(_client(api_url).embed(model_id, files, normalize))
    except ApiClientError as error:
        raise _fail(error) from error


def main() -> None:
    app()


if __name__ == "__main__":
    main()
