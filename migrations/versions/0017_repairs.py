"""Day two: re-authorizing a connection in place, and when its credentials were set

A settled connection being re-authorized is watched in people's lane (someone waits for the
new token), so the lane indexes change with it.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SETTLED = "state IN ('broken', 'connected')"
LANES_BEFORE = {
    "ix_connections_due_people": f"NOT ({SETTLED})",
    "ix_connections_due_bulk": SETTLED,
}
LANES_AFTER = {
    "ix_connections_due_people": f"NOT ({SETTLED}) OR repair_started_at IS NOT NULL",
    "ix_connections_due_bulk": f"{SETTLED} AND repair_started_at IS NULL",
}
TEXTS = {
    "oauth_token_created": 64,
    "repair_by": 32,
    "repair_username": 255,
    "repair_reason": 32,
    "repair_from_token": 64,
    "repair_from_created": 64,
}


def _lanes(where: dict[str, str]) -> None:
    for name, predicate in where.items():
        op.drop_index(name, table_name="connections")
        op.create_index(
            name,
            "connections",
            ["next_due_at"],
            sqlite_where=sa.text(predicate),
            postgresql_where=sa.text(predicate),
        )


def upgrade() -> None:
    # Plain ALTER TABLE, as in 0015: a batch copy would lose SQLite's expression indexes.
    op.add_column(
        "connections",
        sa.Column("client_gone", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    for name, length in TEXTS.items():
        op.add_column("connections", sa.Column(name, sa.String(length), nullable=True))
    op.add_column("connections", sa.Column("repair_started_at", sa.DateTime(), nullable=True))
    op.add_column("connections", sa.Column("credentials_set_at", sa.DateTime(), nullable=True))
    _lanes(LANES_AFTER)


def downgrade() -> None:
    _lanes(LANES_BEFORE)
    for name in ("credentials_set_at", "repair_started_at", *reversed(TEXTS), "client_gone"):
        op.drop_column("connections", name)
