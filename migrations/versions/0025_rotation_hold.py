"""Day two: one rotation approval, one PATCH: a submission holds the rotation while it is sent

Revision ID: 0025
Revises: 0024
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("connections", sa.Column("rotation_sending_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("connections", "rotation_sending_at")
