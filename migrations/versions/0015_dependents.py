"""What depends on a connection: the workspaces, policy sets and modules using its token

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE (SQLite 3.35+ adds and drops unindexed columns in place): a batch
# operation would copy the table and lose the expression indexes SQLite cannot reflect.
COLUMNS = ("uses_workspaces", "uses_policy_sets", "uses_modules")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("connections", sa.Column(name, sa.Integer(), nullable=True))
    op.add_column("connections", sa.Column("dependents_checked_at", sa.DateTime(), nullable=True))
    op.create_table(
        "dependents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("tfe_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("identifier", sa.String(length=255), nullable=True),
        sa.Column("branch", sa.String(length=255), nullable=True),
        sa.Column("oauth_token_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("connection_id", "kind", "tfe_id"),
    )
    op.create_index("ix_dependents_connection_id", "dependents", ["connection_id"])


def downgrade() -> None:
    op.drop_index("ix_dependents_connection_id", table_name="dependents")
    op.drop_table("dependents")
    for name in ("dependents_checked_at", *reversed(COLUMNS)):
        op.drop_column("connections", name)
