"""Alembic is the only way the schema is made: up, down and up again on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from api.persistence.migrate import downgrade, upgrade
from api.persistence.models import Base
from tests.integration.services import POSTGRES_ENV, fresh_postgres_database, required_url

TABLES = {"datasets", "jobs", "job_events", "metrics", "models"}


def check_round_trip(url: str) -> None:
    upgrade(url)
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    for table in Base.metadata.sorted_tables:  # every model column exists in the migrated schema
        columns = {c["name"] for c in inspect(engine).get_columns(table.name)}
        assert set(table.columns.keys()) <= columns, table.name
    downgrade(url, "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    upgrade(url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_migrations_on_sqlite(tmp_path: Path) -> None:
    check_round_trip(f"sqlite:///{tmp_path / 'db.sqlite'}")


@pytest.mark.integration
def test_migrations_on_postgresql() -> None:
    with fresh_postgres_database(required_url(POSTGRES_ENV)) as url:
        check_round_trip(url)
