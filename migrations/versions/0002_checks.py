"""Consumer check findings, acknowledged duplicates, and the authorize hint

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch_op:
        batch_op.add_column(
            sa.Column(
                "duplicates_acknowledged", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("check_warnings", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("authorize_hint_sent_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch_op:
        batch_op.drop_column("authorize_hint_sent_at")
        batch_op.drop_column("check_warnings")
        batch_op.drop_column("duplicates_acknowledged")
