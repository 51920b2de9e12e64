"""tenants: max_storage_bytes

The operator's per-tenant storage limit (null: the server's default,
``SSLPT_MAX_STORAGE_BYTES_PER_TENANT``); past it new uploads and jobs are refused.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 20:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch_op:
        batch_op.add_column(sa.Column("max_storage_bytes", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch_op:
        batch_op.drop_column("max_storage_bytes")
