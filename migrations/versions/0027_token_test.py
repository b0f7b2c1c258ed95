"""The health watch asks Terraform to use the token: its outcome, refusals in a row, and
how many repositories Terraform read through it

Revision ID: 0027
Revises: 0026
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("connections", sa.Column("health_outcome", sa.String(16), nullable=True))
    op.add_column(
        "connections",
        sa.Column("health_refusals", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("connections", sa.Column("health_refused_at", sa.DateTime(), nullable=True))
    op.add_column("connections", sa.Column("repos_seen", sa.Integer(), nullable=True))


def downgrade() -> None:
    for name in ("repos_seen", "health_refused_at", "health_refusals", "health_outcome"):
        op.drop_column("connections", name)
