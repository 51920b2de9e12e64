"""jobs and models: parent_model_id; models: lineage

A job may start from a trained model's encoder (``parent_model_id``); the model it
publishes names the same parent and keeps its ancestry as it was at publication
(``lineage``), so the chain stays readable after an ancestor is deleted.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("parent_model_id", sa.String(32), nullable=True))
    with op.batch_alter_table("models") as batch_op:
        batch_op.add_column(sa.Column("parent_model_id", sa.String(32), nullable=True))
        batch_op.add_column(
            sa.Column("lineage", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("models") as batch_op:
        batch_op.drop_column("lineage")
        batch_op.drop_column("parent_model_id")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("parent_model_id")
