"""Reminder, escalation and clean-up notices; the owner's time zone

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connection_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("slot_at", sa.DateTime(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("connection_id", "kind", "slot_at"),
    )
    with op.batch_alter_table("connection_notices") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_connection_notices_connection_id"), ["connection_id"], unique=False
        )
    with op.batch_alter_table("connections") as batch_op:
        batch_op.add_column(sa.Column("owner_tz", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch_op:
        batch_op.drop_column("owner_tz")
    op.drop_table("connection_notices")
