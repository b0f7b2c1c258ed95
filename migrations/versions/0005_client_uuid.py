"""The OAuth client's uuid, chosen before the consumer exists, and whether TFE ignored it

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch_op:
        # Rows from before this revision keep NULL: they show the placeholder callback URL
        # and the separate "paste the callback URL" step, as they did when they started.
        batch_op.add_column(sa.Column("client_uuid", sa.String(36), nullable=True))
        batch_op.add_column(
            sa.Column("callback_differs", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch_op:
        batch_op.drop_column("callback_differs")
        batch_op.drop_column("client_uuid")
