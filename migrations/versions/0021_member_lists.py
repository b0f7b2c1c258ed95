"""Slack's member list kept in the database: one replica reads it per interval

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("read_by", sa.String(128), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("floor", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slot"),
    )
    op.create_table(
        "member_list_entries",
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("full_member", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["list_id"], ["member_lists.id"]),
        sa.PrimaryKeyConstraint("list_id", "user_id"),
    )


def downgrade() -> None:
    op.drop_table("member_list_entries")
    op.drop_table("member_lists")
