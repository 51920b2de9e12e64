"""Using a running service over HTTP: methods, datasets, jobs, models and search."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from api.client import ApiClientError, SslptClient
from api.core.settings import get_settings

app = typer.Typer()
datasets_app = typer.Typer(help="Register, upload and list datasets.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
console = Console()
err_console = Console(stderr=True)

FINISHED = {"succeeded", "failed", "cancelled"}
PENDING = {"ingesting", "queued", "running"}  # a dataset's state, or a probe's/embedding's
POLL_SECONDS = 0.5
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


@contextmanager
def _reported() -> Iterator[None]:
    """Turn an API error into a message on stderr and exit code 1."""
    try:
        yield
    except ApiClientError as error:
        err_console.print(f"[red]error[/red] {error.status} {error.code}: {error.message}")
        if error.details:
            err_console.print_json(json.dumps(error.details))
        raise typer.Exit(1) from error


@app.command("methods")
def list_methods(api_url: ApiUrl = None) -> None:
    """List the SSL methods the server offers."""
    with _reported():
        methods = _client(api_url).methods()
    table = Table("name", "family", "collapse prevention", "paper")
    for m in methods:
        table.add_row(m["name"], m["family"], m["collapse_prevention"], m["paper"])
    console.print(table)


NoWait = Annotated[
    bool, typer.Option("--no-wait", help="Return once queued, without waiting for the end.")
]


def _until_done(
    item: dict[str, Any],
    fetch: Callable[[str], dict[str, Any]],
    label: str,
    no_wait: bool,
    field: str = "status",
) -> None:
    """Print ``item`` once its work ended (polling ``fetch`` by id under a spinner showing
    ``item[field]``; exit 1 if it failed), or at once with ``--no-wait``."""
    if not no_wait:
        with err_console.status(f"{label}: {item[field]}") as spinner:
            while item[field] in PENDING:
                time.sleep(POLL_SECONDS)
                with _reported():
                    item = fetch(item["id"])
                spinner.update(f"{label}: {item[field]}")
    _print_json(item)
    if item[field] == "failed":
        err_console.print(f"[red]error[/red] {label} failed: {item['failure_reason']}")
        raise typer.Exit(1)


@datasets_app.command("add")
def datasets_add(name: str, path: Path, no_wait: NoWait = False, api_url: ApiUrl = None) -> None:
    """Register a folder of images on the server (class sub-folders become labels) and wait
    until it is scanned."""
    client = _client(api_url)
    with _reported():
        dataset = client.add_dataset(name, str(path.expanduser().resolve()))
    _until_done(dataset, client.dataset, f"dataset {name}", no_wait, field="state")


@datasets_app.command("upload")
def datasets_upload(
    name: str, archive: Path, no_wait: NoWait = False, api_url: ApiUrl = None
) -> None:
    """Upload a zip or tar(.gz) of images as a new dataset (folders become labels) and wait
    until it is unpacked and scanned."""
    client = _client(api_url)
    with _reported():
        dataset = client.upload_dataset(name, archive)
    _until_done(dataset, client.dataset, f"dataset {name}", no_wait, field="state")


@datasets_app.command("list")
def datasets_list(api_url: ApiUrl = None) -> None:
    """List registered datasets."""
    with _reported():
        page = _client(api_url).datasets()
    table = Table("id", "name", "state", "images", "classes", "unreadable")
    for d in page["items"]:
        table.add_row(
            d["id"],
            d["name"],
            d["state"],
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
    gpu: Annotated[bool, typer.Option(help="Train only on a worker with a GPU.")] = False,
    parent: Annotated[
        str | None, typer.Option(help="Model id whose encoder the job starts from.")
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
        "resources": {"gpu": gpu},
    }
    if backbone:
        spec["backbone"] = backbone
    if image_size:
        spec["image_size"] = image_size
    if parent:
        spec["parent_model_id"] = parent
    with _reported():
        job = _client(api_url).submit(spec, idempotency_key)
    console.print(job["id"])


@app.command("jobs")
def list_jobs(
    status: Annotated[list[str] | None, typer.Option(help="Filter by status (repeatable).")] = None,
    api_url: ApiUrl = None,
) -> None:
    """List jobs, newest first."""
    with _reported():
        page = _client(api_url).jobs(status)
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


@app.command("rm")
def remove(
    kind: Annotated[str, typer.Argument(help="job, model or dataset")],
    object_id: Annotated[str, typer.Argument(metavar="ID")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    api_url: ApiUrl = None,
) -> None:
    """Delete a finished job, a model or a dataset, with its files (asks first unless
    --yes)."""
    if kind not in ("job", "model", "dataset"):
        raise typer.BadParameter("KIND must be job, model or dataset")
    if not yes:
        typer.confirm(f"Delete {kind} {object_id} and its files?", abort=True)
    with _reported():
        _client(api_url).delete(kind, object_id)
    console.print(f"deleted {kind} {object_id}")


@app.command("workers")
def list_workers(api_url: ApiUrl = None) -> None:
    """List worker processes (the operator sees all; other keys, those running their work)."""
    with _reported():
        rows = _client(api_url).workers()
    table = Table("id", "queue", "device", "alive", "last heartbeat", "doing", "done")
    for w in rows:
        device = w["device"] + (f" ({w['device_name']})" if w["device_name"] else "")
        doing = ", ".join(f"{t['kind']} {t['id']}" for t in w["current_tasks"])
        alive = "yes" if w["alive"] else f"no ({w['stop_reason'] or 'silent'})"
        table.add_row(
            w["id"], w["queue"], device, alive, w["last_heartbeat_at"], doing, str(w["tasks_done"])
        )
    console.print(table)


@app.command("job")
def show_job(job_id: str, api_url: ApiUrl = None) -> None:
    """Show one job as JSON."""
    with _reported():
        _print_json(_client(api_url).job(job_id))


@app.command("cancel")
def cancel(job_id: str, api_url: ApiUrl = None) -> None:
    """Ask a job to stop (it checkpoints first)."""
    with _reported():
        job = _client(api_url).cancel(job_id)
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
            with _reported():
                job = client.job(job_id)
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
    precision: Annotated[
        str | None,
        typer.Option(help="auto, fp32 (float32-exact) or bf16; default: the server's."),
    ] = None,
    api_url: ApiUrl = None,
) -> None:
    """Embed image FILES with a trained model; prints the JSON response."""
    with _reported():
        _print_json(_client(api_url).embed(model_id, files, normalize, precision))


@app.command("export")
def export(
    model_id: str,
    fmt: Annotated[
        str, typer.Option("--format", help="safetensors (backbone weights), torchscript or onnx.")
    ] = "safetensors",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write, or a folder for the server's name."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    api_url: ApiUrl = None,
) -> None:
    """Download a model as a zip of the file in FORMAT and its model card (default name:
    <model id>-<format>.zip)."""
    with _reported():
        try:
            path = _client(api_url).export(model_id, fmt, output, overwrite=force)
        except OSError as error:
            hint = " (--force overwrites it)" if isinstance(error, FileExistsError) else ""
            where = escape(str(error.filename))
            err_console.print(f"[red]error[/red] {where}: {error.strerror}{hint}")
            raise typer.Exit(1) from error
    console.print(f"{escape(str(path))} ({path.stat().st_size} bytes)")


DatasetOption = Annotated[str, typer.Option("--dataset", help="Dataset id.")]


@app.command("evaluate")
def evaluate(
    model_id: str, dataset: DatasetOption, no_wait: NoWait = False, api_url: ApiUrl = None
) -> None:
    """Linear-probe a model on a labeled dataset; print the evaluation (with top1) once it
    ended, exit code 1 if it failed."""
    client = _client(api_url)
    with _reported():
        evaluation = client.evaluate(model_id, dataset)
    _until_done(evaluation, client.evaluation, f"evaluation {evaluation['id']}", no_wait)


@app.command("embeddings")
def embeddings(
    model_id: str, dataset: DatasetOption, no_wait: NoWait = False, api_url: ApiUrl = None
) -> None:
    """Embed and index a whole dataset with a model for sslpt search; print the dataset
    embedding once it ended, exit code 1 if it failed."""
    client = _client(api_url)
    with _reported():
        embedding = client.embed_dataset(model_id, dataset)
    _until_done(embedding, client.dataset_embedding, f"embedding {embedding['id']}", no_wait)


def _read_vector(source: Path) -> list[float]:
    """A JSON list of numbers from a file, or from stdin for ``-``."""
    text = sys.stdin.read() if str(source) == "-" else source.read_text()
    try:
        vector = json.loads(text)
    except json.JSONDecodeError as error:
        raise typer.BadParameter(f"not JSON: {error}", param_hint="--vector") from error
    if not isinstance(vector, list) or not all(isinstance(v, int | float) for v in vector):
        raise typer.BadParameter("must be a JSON list of numbers", param_hint="--vector")
    return [float(v) for v in vector]


@app.command("search")
def search(
    model_id: str,
    image: Annotated[
        Path | None,
        typer.Option(help="Image file to search with.", exists=True, dir_okay=False),
    ] = None,
    vector: Annotated[
        Path | None,
        typer.Option(
            help="Or a JSON file of an embedding of this model (- for stdin).",
            exists=True,
            dir_okay=False,
            allow_dash=True,
        ),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Dataset id (default: the newest embedded one).")
    ] = None,
    k: Annotated[int, typer.Option("-k", help="How many neighbours (at most 100).")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON answer.")] = False,
    api_url: ApiUrl = None,
) -> None:
    """The K dataset items nearest (cosine) to an image or a vector, most similar first.
    The dataset must have been embedded with the model first (sslpt embeddings)."""
    query: Path | list[float]
    if image is not None and vector is None:
        query = image
    elif vector is not None and image is None:
        query = _read_vector(vector)
    else:
        raise typer.BadParameter("give exactly one of --image and --vector")
    with _reported():
        found = _client(api_url).search(model_id, query, dataset_id=dataset, k=k)
    if as_json:
        _print_json(found)
        return
    title = f"dataset {found['dataset_id']} (embedding {found['embedding_id']})"
    table = Table("rank", "score", "label", "path", title=title)
    for rank, hit in enumerate(found["results"], start=1):
        label, path = escape(hit["label"] or ""), escape(hit["path"])  # the dataset's names
        table.add_row(str(rank), f"{hit['score']:.4f}", label, path)
    console.print(table)
