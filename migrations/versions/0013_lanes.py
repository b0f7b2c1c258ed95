"""Due work in two lanes: an index for each

People's due work (token checks, reminders, approvals) and bulk due work (health checks)
are claimed separately; each lane reads its own partial index of next_due_at.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SETTLED = "state IN ('broken', 'connected')"


def upgrade() -> None:
    for name, where in (
        ("ix_connections_due_people", f"NOT ({SETTLED})"),
        ("ix_connections_due_bulk", SETTLED),
    ):
        op.create_index(
            name,
            "connections",
            ["next_due_at"],
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )


def downgrade() -> None:
    op.drop_index("ix_connections_due_bulk", table_name="connections")
    op.drop_index("ix_connections_due_people", table_name="connections")
