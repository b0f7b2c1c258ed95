"""Day two: Delete old client is claimed, so two presses send one DELETE

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("moves", sa.Column("old_client_claimed_by", sa.String(32), nullable=True))
    op.add_column("moves", sa.Column("old_client_claimed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("moves", "old_client_claimed_at")
    op.drop_column("moves", "old_client_claimed_by")
