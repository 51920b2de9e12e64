"""The ``sslpt`` command: run the service (up, api, worker, db), manage its API keys on the
database (keys), and use it over HTTP (methods, datasets, submit, jobs, watch, embed...)."""

from __future__ import annotations

import typer

from api.cli import keys, remote, service

app = typer.Typer(help="Self-supervised pretraining service.", no_args_is_help=True)
app.add_typer(service.app)
app.add_typer(keys.app, name="keys")
app.add_typer(remote.app)


def main() -> None:
    app()
