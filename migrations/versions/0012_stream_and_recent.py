"""Indexes for reading at scale: the audit trail in time order, the recently finished

The audit export streams events in (at, id) order and must not sort a million rows before
its first line; status lists the latest finished connections by updated_at.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_connection_events_at_id", "connection_events", ["at", "id"])
    op.create_index("ix_connections_updated_at", "connections", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_connections_updated_at", table_name="connections")
    op.drop_index("ix_connection_events_at_id", table_name="connection_events")
