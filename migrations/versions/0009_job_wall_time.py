"""jobs: wall-time used and allowed; tenants: a wall-time cap set by the operator

A job's running time is summed over its attempts (``wall_seconds``, added at each lease
renewal) and the job stops, checkpointed, at ``max_wall_seconds``. Existing jobs get no
limit (null). A tenant's ``max_wall_seconds`` overrides the server's cap for its jobs.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(
            sa.Column("wall_seconds", sa.Float(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("max_wall_seconds", sa.Integer(), nullable=True))
    with op.batch_alter_table("tenants") as batch_op:
        batch_op.add_column(sa.Column("max_wall_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch_op:
        batch_op.drop_column("max_wall_seconds")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("max_wall_seconds")
        batch_op.drop_column("wall_seconds")
