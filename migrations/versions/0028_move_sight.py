"""A move's dry run asks whether the new token sees each repository: whether it could ask

Revision ID: 0028
Revises: 0027
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("moves", sa.Column("repos_checked", sa.String(16), nullable=True))


def downgrade() -> None:
    op.drop_column("moves", "repos_checked")
