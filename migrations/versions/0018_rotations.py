"""Day two: rotating a connection's consumer key and secret, with approval where configured

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("rotation_by", sa.String(32)),
    ("rotation_stage", sa.String(32)),
    ("rotation_asked_at", sa.DateTime()),
    ("rotation_reason", sa.Text()),
    ("rotation_decided_by", sa.String(32)),
)


def upgrade() -> None:
    # Plain ALTER TABLE, as in 0015: a batch copy would lose SQLite's expression indexes.
    for name, kind in COLUMNS:
        op.add_column("connections", sa.Column(name, kind, nullable=True))
    op.create_table(
        "rotation_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("asked_at", sa.DateTime(), nullable=False),
        sa.Column("approver_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("connection_id", "asked_at", "approver_id"),
    )
    op.create_index("ix_rotation_cards_connection_id", "rotation_cards", ["connection_id"])


def downgrade() -> None:
    op.drop_index("ix_rotation_cards_connection_id", table_name="rotation_cards")
    op.drop_table("rotation_cards")
    for name, _ in reversed(COLUMNS):
        op.drop_column("connections", name)
