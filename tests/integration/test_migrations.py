"""Alembic is the only way the schema is made: up, down and up again on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from api.core.persistence.migrate import downgrade, upgrade
from api.core.persistence.tables import Base
from tests.integration.services import POSTGRES_ENV, fresh_postgres_database, required_url

TABLES = {"datasets", "jobs", "job_events", "metrics", "models", "tenants", "api_keys"}


def check_round_trip(url: str) -> None:
    upgrade(url, "0003")  # before tenants: a dataset and a job from that time
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO datasets (id, name, path, image_count, classes, class_counts, "
                "unreadable, size_stats, total_bytes, created_at) VALUES ('d1', 'old', '/x', 1, "
                "'[]', '{}', '[]', '{}', 0, CURRENT_TIMESTAMP)"
            )
        )
    upgrade(url)
    with engine.connect() as connection:  # the pre-tenant rows belong to the local tenant
        owner = connection.execute(text("SELECT tenant_id FROM datasets WHERE id = 'd1'"))
        assert owner.scalar_one() == "local"
        tenants = connection.execute(text("SELECT id FROM tenants")).scalars().all()
        assert tenants == ["local"]
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
