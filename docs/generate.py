"""Rewrite the generated tables of the docs from the code.

Three regions, each between ``<!-- generated:NAME -->`` and ``<!-- end generated -->``:

* ``routes`` in docs/http-api.md, from the app's OpenAPI document
  (``api.main.create_app(...).openapi()``): method, path, operation id, summary, key;
* ``settings`` in docs/operations.md, from ``api.core.settings.Settings.model_fields``:
  environment variable, default, description;
* ``recipes`` in docs/methods.md, from each registered method's ``optimizer_defaults``.

Run from the repository root::

    .venv/bin/python -m docs.generate          # rewrite the tables
    .venv/bin/python -m docs.generate --check  # exit 1 when a table is stale

tests/docs/test_docs_current.py fails when a table differs from what this writes.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
COMMAND = ".venv/bin/python -m docs.generate"
END = "<!-- end generated -->"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def begin_marker(name: str) -> str:
    return f"<!-- generated:{name} -->"


def cell(text: str) -> str:
    """``text`` as one Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


# ---- routes ----------------------------------------------------------------------------


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document; it does not depend on the settings' values."""
    from api.core.settings import Settings
    from api.main import create_app

    with tempfile.TemporaryDirectory() as scratch:  # the app makes its broker folders
        app = create_app(Settings(data_dir=Path(scratch)), run_reconciler=False)
        return app.openapi()


def first_line(operation: dict[str, Any]) -> str:
    """The first line of the route's docstring, else FastAPI's summary (the name)."""
    description = str(operation.get("description") or "").strip()
    return description.splitlines()[0] if description else str(operation.get("summary", ""))


def route_table(document: dict[str, Any]) -> str:
    rows = [
        "| method | path | operation id | summary | key |",
        "|---|---|---|---|---|",
    ]
    for path, operations in document["paths"].items():
        for method in HTTP_METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            key = "bearer" if operation.get("security") else "none"
            rows.append(
                f"| {method.upper()} | `{path}` | `{operation['operationId']}` "
                f"| {cell(first_line(operation))} | {key} |"
            )
    return "\n".join(rows)


# ---- settings --------------------------------------------------------------------------


def format_default(name: str, field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        return "empty" if value in ([], {}, ()) else f"`{value}`"
    value = field.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    text = f"`{value}`"
    if name.endswith("_bytes") and isinstance(value, int):
        for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
            if value >= size and value % size == 0:
                return f"{text} ({value // size} {unit})"
    return text


def settings_table() -> str:
    from api.core.settings import Settings

    prefix = str(Settings.model_config.get("env_prefix", ""))
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        variable = f"{prefix}{name}".upper()
        description = cell(field.description or "")
        rows.append(f"| `{variable}` | {format_default(name, field)} | {description} |")
    return "\n".join(rows)


# ---- recipes ---------------------------------------------------------------------------


def recipe_table() -> str:
    from ssl_engine.methods.registry import METHODS

    rows = [
        "| method | optimizer | lr per 256 | weight decay | LARS eta, clip | AdamW betas "
        "| warm-up (share of run) | source |",
        "|---|---|---:|---:|---|---|---:|---|",
    ]
    for name, method in METHODS.items():
        recipe = method.optimizer_defaults
        lars = f"{recipe.trust_coefficient:g}, {recipe.clip_lr}" if recipe.name == "lars" else ""
        betas = ", ".join(f"{b:g}" for b in recipe.betas) if recipe.name == "adamw" else ""
        rows.append(
            f"| `{name}` | {recipe.name} | {recipe.lr:g} | {recipe.weight_decay:g} | {lars} "
            f"| {betas} | {recipe.warmup_fraction:g} | {cell(recipe.source)} |"
        )
    return "\n".join(rows)


# ---- the files -------------------------------------------------------------------------


def replace_region(text: str, name: str, table: str) -> str:
    """``text`` with the region ``name`` holding ``table``; ValueError if it has none."""
    pattern = re.compile(re.escape(begin_marker(name)) + r".*?" + re.escape(END), re.DOTALL)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"expected one {begin_marker(name)} ... {END} region")
    replacement = f"{begin_marker(name)}\n{table}\n{END}"
    return pattern.sub(lambda _match: replacement, text)


def tables() -> dict[Path, tuple[str, str]]:
    """File -> (region name, the table it should hold)."""
    return {
        DOCS / "http-api.md": ("routes", route_table(openapi_document())),
        DOCS / "operations.md": ("settings", settings_table()),
        DOCS / "methods.md": ("recipes", recipe_table()),
    }


def expected_texts() -> dict[Path, str]:
    """Each generated file as this script would write it."""
    return {
        path: replace_region(path.read_text(encoding="utf-8"), name, table)
        for path, (name, table) in tables().items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a table is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in expected_texts().items():
        if path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{path}: {'stale' if args.check else 'rewritten'}")
    if args.check and stale:
        print(f"run `{COMMAND}` to regenerate")
        return 1
    return 0


if __name__ == "__main__":
    if str(ROOT) not in sys.path:  # run as ``python docs/generate.py``
        sys.path.insert(0, str(ROOT))
    sys.exit(main())
