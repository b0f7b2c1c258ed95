"""Member changes: who became or stopped being a full member, shared between replicas

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("full_member", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_member_changes_changed_at", "member_changes", ["changed_at"])


def downgrade() -> None:
    op.drop_index("ix_member_changes_changed_at", table_name="member_changes")
    op.drop_table("member_changes")
