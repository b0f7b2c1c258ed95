"""Indexes for status at scale: a channel's connections, the recently finished

Status lists the channel's open connections and the last finished ones; without these the
first read every row and the second sorted every finished one (100,000 connections: 0.15 s
per status).

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


FINISHED = "state IN ('broken', 'cancelled', 'connected', 'denied', 'expired')"


def upgrade() -> None:
    op.create_index("ix_connections_channel_id", "connections", ["channel_id"])
    op.create_index(
        "ix_connections_finished",
        "connections",
        ["updated_at"],
        sqlite_where=sa.text(FINISHED),
        postgresql_where=sa.text(FINISHED),
    )


def downgrade() -> None:
    op.drop_index("ix_connections_finished", table_name="connections")
    op.drop_index("ix_connections_channel_id", table_name="connections")
