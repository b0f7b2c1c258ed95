"""Day two: a move's approvers get a card in a direct message; who cancelled a move

Revision ID: 0026
Revises: 0025
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "move_cards",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("move_id", sa.Integer(), sa.ForeignKey("moves.id"), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.UniqueConstraint("move_id", "user_id"),
    )
    op.create_index("ix_move_cards_move_id", "move_cards", ["move_id"])
    op.add_column("moves", sa.Column("cancelled_by", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("moves", "cancelled_by")
    op.drop_index("ix_move_cards_move_id", "move_cards")
    op.drop_table("move_cards")
