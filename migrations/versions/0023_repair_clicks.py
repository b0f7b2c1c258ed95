"""Day two: who was asked to re-authorize, and who opened the steps (ownership follows them)

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("connections", sa.Column("repair_asked", sa.Text(), nullable=True))
    op.add_column("connections", sa.Column("repair_clicked_by", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("connections", "repair_clicked_by")
    op.drop_column("connections", "repair_asked")
