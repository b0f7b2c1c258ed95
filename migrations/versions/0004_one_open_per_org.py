"""At most one unfinished connection per organization

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "state NOT IN ('cancelled', 'connected', 'denied', 'expired')"


def upgrade() -> None:
    op.create_index(
        "uq_connections_open_organization",
        "connections",
        ["organization"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("uq_connections_open_organization", table_name="connections")
