"""jobs.eval_dataset_id; leases for evaluations and dataset embeddings

A job may name a separate labeled dataset for its online kNN. Linear probes and dataset
embeddings get what jobs have: a lease renewed by the worker, an attempt count, and the
time they were last queued, so the reconciler can re-queue one whose worker was lost.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TASK_TABLES = ("evaluations", "dataset_embeddings")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("eval_dataset_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            "fk_jobs_eval_dataset_id", "datasets", ["eval_dataset_id"], ["id"]
        )
    for table in TASK_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("attempts", sa.Integer(), nullable=False, server_default="0")
            )
            batch_op.add_column(sa.Column("lease_owner", sa.String(length=200), nullable=True))
            batch_op.add_column(
                sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
            )
            batch_op.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
            batch_op.create_index(f"ix_{table}_status", ["status"])


def downgrade() -> None:
    for table in reversed(TASK_TABLES):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(f"ix_{table}_status")
            for column in ("queued_at", "lease_expires_at", "lease_owner", "attempts"):
                batch_op.drop_column(column)
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_constraint("fk_jobs_eval_dataset_id", type_="foreignkey")
        batch_op.drop_column("eval_dataset_id")
