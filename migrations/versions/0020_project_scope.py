"""Day two: a connection limited to chosen Terraform projects, and each dependent's project

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, as in 0015: a batch copy would lose SQLite's expression indexes.
    op.add_column("connections", sa.Column("project_ids", sa.Text(), nullable=True))
    op.add_column("connections", sa.Column("project_names", sa.Text(), nullable=True))
    op.add_column("dependents", sa.Column("project_id", sa.String(64), nullable=True))
    op.add_column("move_items", sa.Column("project_id", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("move_items", "project_id")
    op.drop_column("dependents", "project_id")
    op.drop_column("connections", "project_names")
    op.drop_column("connections", "project_ids")
