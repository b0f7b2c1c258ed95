"""One open connection per organization, whatever the case of its name

Terraform compares organization names without regard to case, so `acme` and `Acme` are one
organization and may not both have an unfinished connection.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "state NOT IN ('broken', 'cancelled', 'connected', 'denied', 'expired')"


def _index(column: str | sa.TextClause) -> None:
    op.create_index(
        "uq_connections_open_organization",
        "connections",
        [column],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def upgrade() -> None:
    op.drop_index("uq_connections_open_organization", table_name="connections")
    _index(sa.text("lower(organization)"))
    # Lookups by organization compare lower(organization), so that is what is indexed.
    op.drop_index("ix_connections_organization", table_name="connections")
    op.create_index("ix_connections_organization", "connections", [sa.text("lower(organization)")])


def downgrade() -> None:
    op.drop_index("ix_connections_organization", table_name="connections")
    op.create_index("ix_connections_organization", "connections", ["organization"])
    op.drop_index("uq_connections_open_organization", table_name="connections")
    _index("organization")
