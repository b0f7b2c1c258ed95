"""Day two: moves of workspaces and policy sets from an old OAuth client to a new one

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization", sa.String(255), nullable=False),
        sa.Column("from_connection_id", sa.Integer(), nullable=False),
        sa.Column("to_connection_id", sa.Integer(), nullable=False),
        sa.Column("from_client_id", sa.String(64), nullable=True),
        sa.Column("to_token_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("asked_by", sa.String(32), nullable=False),
        sa.Column("approved_by", sa.String(32), nullable=True),
        sa.Column("modules_left", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("message_channel", sa.String(32), nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("old_client_deleted_by", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(["from_connection_id"], ["connections.id"]),
        sa.ForeignKeyConstraint(["to_connection_id"], ["connections.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_moves_from_connection_id", "moves", ["from_connection_id"])
    op.create_index("ix_moves_to_connection_id", "moves", ["to_connection_id"])
    op.create_table(
        "move_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("move_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("tfe_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("identifier", sa.String(255), nullable=True),
        sa.Column("branch", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["move_id"], ["moves.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("move_id", "kind", "tfe_id"),
    )
    op.create_index("ix_move_items_move_id", "move_items", ["move_id"])
    op.create_index(
        "ix_move_items_due",
        "move_items",
        ["due_at"],
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_move_items_due", table_name="move_items")
    op.drop_index("ix_move_items_move_id", table_name="move_items")
    op.drop_table("move_items")
    op.drop_index("ix_moves_to_connection_id", table_name="moves")
    op.drop_index("ix_moves_from_connection_id", table_name="moves")
    op.drop_table("moves")
