"""``sslpt keys``: API keys, straight in the database (for the server's operator)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.core.settings import get_settings

app = typer.Typer(
    help="API keys, straight in the database (for the server's operator).", no_args_is_help=True
)
console = Console()
err_console = Console(stderr=True)


@app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="The tenant (team); created if new.")],
    name: Annotated[str, typer.Option(help="A label: who or what holds the key.")] = "",
    admin: Annotated[
        bool, typer.Option(help="May manage its own tenant's keys over HTTP.")
    ] = False,
    operator: Annotated[
        bool, typer.Option(help="The server's operator: manages every tenant and its quota.")
    ] = False,
) -> None:
    """Create a key and print it (once: only its hash is stored)."""
    from api.core.persistence import api_keys
    from api.core.persistence.db import session_scope

    settings = get_settings()
    try:
        with session_scope(settings.resolved_database_url, tenant=None) as session:
            created = api_keys.create_key(
                session, tenant, name=name, admin=admin, operator=operator
            )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    scopes = [scope for scope, on in (("admin", admin), ("operator", operator)) if on]
    err_console.print(
        f"key {created.row.prefix}... for tenant {tenant!r}"
        f"{' (' + ', '.join(scopes) + ')' if scopes else ''}; "
        "store it now, it cannot be shown again:"
    )
    print(created.secret)


@app.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
) -> None:
    """Every key: prefix, tenant, scope, last use, revoked or not."""
    from api.core.persistence import api_keys
    from api.core.persistence.db import session_scope

    table = Table("id", "prefix", "tenant", "name", "scope", "last used", "revoked")
    with session_scope(get_settings().resolved_database_url, tenant=None) as session:
        for key in api_keys.list_keys(session, tenant):
            table.add_row(
                key.id,
                key.prefix,
                key.tenant_id,
                key.name,
                ", ".join(s for s, on in (("admin", key.admin), ("operator", key.operator)) if on),
                _when(key.last_used_at),
                _when(key.revoked_at),
            )
    console.print(table)


def _when(moment: datetime | None) -> str:
    return moment.isoformat(sep=" ", timespec="seconds") if moment else ""


@app.command("revoke")
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
