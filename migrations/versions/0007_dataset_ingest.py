"""datasets: ingest state and lease

A dataset is scanned (and an upload unpacked) by an ingest worker, never by the API: the
row gets the lease columns probes have (status, attempts, lease owner and expiry, when it
was queued, started and finished, the failure reason) and the archive an upload left under
``incoming/`` until it is unpacked. Rows that exist already were scanned when registered:
they are ``succeeded`` (shown as ``ready``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_COLUMNS = (
    "source_archive",
    "status",
    "attempts",
    "lease_owner",
    "lease_expires_at",
    "queued_at",
    "failure_reason",
    "started_at",
    "finished_at",
)


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch_op:
        batch_op.add_column(sa.Column("source_archive", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="succeeded")
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("failure_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_datasets_status", ["status"])


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch_op:
        batch_op.drop_index("ix_datasets_status")
        for column in reversed(NEW_COLUMNS):
            batch_op.drop_column(column)
