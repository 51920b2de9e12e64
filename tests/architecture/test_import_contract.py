"""The layers of docs/architecture.md, checked on the source: no import runs upward.

    ssl_engine            imports neither api nor worker
    api.core              imports nothing else of api, nothing of worker
    api (the rest)        never imports worker
    worker                imports api.core and ssl_engine only
    api.routes.X          never imports another route module (only ``views`` helpers)

Every import statement counts, at module level or inside a function.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(source: str) -> Iterator[str]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            # ``from api import core`` imports api.core
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def violation(importer: str, imported: str) -> str | None:
    """Why ``importer`` may not import ``imported``, or None when it may."""
    if is_within(importer, "ssl_engine") and (
        is_within(imported, "api") or is_within(imported, "worker")
    ):
        return "ssl_engine imports neither api nor worker"
    outside_core = (
        is_within(imported, "api") and not is_within(imported, "api.core") and imported != "api"
    )
    if is_within(importer, "api.core") and is_within(imported, "worker"):
        return "api.core imports nothing from worker"
    if is_within(importer, "api.core") and outside_core:
        return "api.core imports nothing else from api"
    if is_within(importer, "api") and is_within(imported, "worker"):
        return "api never imports worker (the CLI starts workers as processes)"
    if is_within(importer, "worker") and outside_core:
        return "worker imports only api.core from api"
    if (
        is_within(importer, "api.routes")
        and is_within(imported, "api.routes")
        and "views" not in imported.split(".")
        and imported.rsplit(".", 1)[0] != importer  # a resource package includes its parts
        and not is_within(importer, imported)  # ``from <own package> import part``
        and imported != "api.routes"  # main.py's ``from api.routes import ...`` line
    ):
        return "a route module never imports another (shared helpers live in views)"
    return None


def violations(files: list[Path]) -> list[str]:
    found = []
    for path in files:
        importer = module_name(path)
        for imported in imported_modules(path.read_text()):
            reason = violation(importer, imported)
            if reason:
                found.append(f"{importer} imports {imported}: {reason}")
    return found


def source_files() -> list[Path]:
    return [p for pkg in ("ssl_engine", "api", "worker") for p in (ROOT / pkg).rglob("*.py")]


def test_no_import_crosses_a_layer_upward() -> None:
    assert violations(source_files()) == []


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("ssl_engine.trainer", "api.core.settings"),
        ("ssl_engine.methods.simclr", "worker.run_job"),
        ("api.core.queue", "api.errors"),
        ("api.core.persistence.jobs", "worker.job_spec"),
        ("api.main", "worker.celery_app"),
        ("api.cli.service", "worker"),
        ("worker.embed_dataset", "api.serving.vector_index"),
        ("worker.run_job", "api.errors"),
        ("api.routes.datasets.uploads", "api.routes.datasets.folders"),
        ("api.routes.jobs.stream", "api.routes.jobs.runs"),
    ],
)
def test_the_rules_catch_each_kind_of_cross_import(importer: str, imported: str) -> None:
    assert violation(importer, imported) is not None


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("worker.run_job", "api.core.persistence.jobs"),
        ("worker.run_job", "ssl_engine.trainer"),
        ("api.routes.jobs", "api.core.queue"),
        ("api.core.queue", "api.core.settings"),
        ("api.routes.jobs.stream", "api.routes.jobs.views"),
        ("api.routes.models", "api.routes.models.search"),
    ],
)
def test_the_rules_allow_the_downward_imports(importer: str, imported: str) -> None:
    assert violation(importer, imported) is None


def test_a_from_import_of_a_submodule_is_seen(tmp_path: Path) -> None:
    assert "worker.celery_app" in set(imported_modules("from worker import celery_app\n"))
    assert "api.errors" in set(imported_modules("def f():\n    from api import errors\n"))
