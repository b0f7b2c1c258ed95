"""Day two: registry modules re-published from the new connection after a move

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("dependents", sa.Column("provider", sa.String(64), nullable=True))
    op.add_column("moves", sa.Column("modules_republished_by", sa.String(32), nullable=True))
    op.add_column("moves", sa.Column("modules_report", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("moves", "modules_report")
    op.drop_column("moves", "modules_republished_by")
    op.drop_column("dependents", "provider")
