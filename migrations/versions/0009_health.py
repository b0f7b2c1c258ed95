"""The health watch: the broken state settles like connected, and the last check is kept

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "state NOT IN ('cancelled', 'connected', 'denied', 'expired')"
AFTER = "state NOT IN ('broken', 'cancelled', 'connected', 'denied', 'expired')"


def _index(predicate: str) -> None:
    op.create_index(
        "uq_connections_open_organization",
        "connections",
        ["organization"],
        unique=True,
        sqlite_where=sa.text(predicate),
        postgresql_where=sa.text(predicate),
    )


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch_op:
        batch_op.add_column(sa.Column("health_checked_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("health_note", sa.Text(), nullable=True))
    # A broken connection no longer counts as the organization's unfinished one.
    op.drop_index("uq_connections_open_organization", table_name="connections")
    _index(AFTER)


def downgrade() -> None:
    op.drop_index("uq_connections_open_organization", table_name="connections")
    _index(BEFORE)
    with op.batch_alter_table("connections") as batch_op:
        batch_op.drop_column("health_note")
        batch_op.drop_column("health_checked_at")
