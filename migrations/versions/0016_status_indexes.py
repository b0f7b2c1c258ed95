"""An index for status at scale: a channel's connections

Status lists the channel's open connections; without it that reads every row (100,000
connections: a tenth of a second per status).

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_connections_channel_id", "connections", ["channel_id"])


def downgrade() -> None:
    op.drop_index("ix_connections_channel_id", table_name="connections")
