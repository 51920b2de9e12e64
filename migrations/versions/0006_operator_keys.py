"""api_keys.operator: the server operator's scope, apart from a tenant's admin

An admin key manages the keys of its own tenant only; an operator key manages tenants,
their quotas and every tenant's keys. Existing admin keys become tenant admins (the
column defaults to false); ``sslpt up`` replaces its local key by an operator key.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(
            sa.Column("operator", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_column("operator")
