"""tenants and api_keys; every dataset, job, model, evaluation and embedding gets a tenant

Rows from before tenants belong to the ``local`` tenant (the embedded single-user mode's).
Idempotency keys become unique per tenant rather than server-wide.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCAL_TENANT = "local"
OWNED_TABLES = ("datasets", "jobs", "models", "evaluations", "dataset_embeddings")
# Gives SQLite's unnamed unique constraint a name that batch mode can drop.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("max_active_jobs", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(
        sa.text("INSERT INTO tenants (id, created_at) VALUES (:id, CURRENT_TIMESTAMP)").bindparams(
            id=LOCAL_TENANT
        )
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prefix"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_index("ix_api_keys_tenant_id", "api_keys", ["tenant_id"])
    for table in OWNED_TABLES:
        with op.batch_alter_table(table, naming_convention=NAMING) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "tenant_id",
                    sa.String(length=64),
                    nullable=False,
                    server_default=LOCAL_TENANT,
                )
            )
            batch_op.create_foreign_key(f"fk_{table}_tenant_id", "tenants", ["tenant_id"], ["id"])
            batch_op.create_index(f"ix_{table}_tenant_id", ["tenant_id"])
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("tenant_id", server_default=None)
    old_unique = "jobs_idempotency_key_key" if op.get_bind().dialect.name == "postgresql" else None
    with op.batch_alter_table("jobs", naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint(old_unique or "uq_jobs_idempotency_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_jobs_tenant_idempotency_key", ["tenant_id", "idempotency_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint("uq_jobs_tenant_idempotency_key", type_="unique")
        batch_op.create_unique_constraint("uq_jobs_idempotency_key", ["idempotency_key"])
    for table in reversed(OWNED_TABLES):
        with op.batch_alter_table(table, naming_convention=NAMING) as batch_op:
            batch_op.drop_index(f"ix_{table}_tenant_id")
            batch_op.drop_constraint(f"fk_{table}_tenant_id", type_="foreignkey")
            batch_op.drop_column("tenant_id")
    op.drop_index("ix_api_keys_tenant_id", table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("tenants")
