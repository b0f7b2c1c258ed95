"""Rate buckets: Slack's tiers as one token bucket shared by every replica

Revision ID: 0032
Revises: 0031
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_buckets",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # Slack's turns were counted in windows; those rows are no longer read.
    op.execute("DELETE FROM rate_windows WHERE name LIKE 'slack%'")


def downgrade() -> None:
    op.drop_table("rate_buckets")
