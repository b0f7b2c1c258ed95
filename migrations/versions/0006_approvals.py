"""Approvals: the requester's reason, the decision, and each approver's card

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch_op:
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("decided_by", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("decided_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("decision_note", sa.Text(), nullable=True))
    op.create_table(
        "approval_cards",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("connection_id", sa.Integer(), sa.ForeignKey("connections.id"), nullable=False),
        sa.Column("approver_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.UniqueConstraint("connection_id", "approver_id"),
    )
    op.create_index("ix_approval_cards_connection_id", "approval_cards", ["connection_id"])


def downgrade() -> None:
    op.drop_index("ix_approval_cards_connection_id", table_name="approval_cards")
    op.drop_table("approval_cards")
    with op.batch_alter_table("connections") as batch_op:
        batch_op.drop_column("decision_note")
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decided_by")
        batch_op.drop_column("reason")
