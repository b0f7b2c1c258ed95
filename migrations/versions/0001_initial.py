"""connections, audit trail and Slack deliveries

Revision ID: 0001
Revises:
Create Date: 2026-11-28 23:45:36.171436
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_ref", sa.String(length=255), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("organization", sa.String(length=255), nullable=False),
        sa.Column("account_kind", sa.String(length=32), nullable=False),
        sa.Column("bitbucket_username", sa.String(length=255), nullable=True),
        sa.Column("bitbucket_workspace", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("last_open_state", sa.String(length=32), nullable=True),
        sa.Column("status_note", sa.Text(), nullable=True),
        sa.Column("progress_channel", sa.String(length=32), nullable=True),
        sa.Column("progress_ts", sa.String(length=32), nullable=True),
        sa.Column("owner_dm_channel", sa.String(length=32), nullable=True),
        sa.Column("authorize_message_ts", sa.String(length=32), nullable=True),
        sa.Column("oauth_client_id", sa.String(length=64), nullable=True),
        sa.Column("oauth_client_name", sa.String(length=255), nullable=True),
        sa.Column("callback_url", sa.Text(), nullable=True),
        sa.Column("connect_path", sa.Text(), nullable=True),
        sa.Column("oauth_token_id", sa.String(length=64), nullable=True),
        sa.Column("authorized_as", sa.String(length=255), nullable=True),
        sa.Column("client_create_started_at", sa.DateTime(), nullable=True),
        sa.Column("authorize_clicked_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("progressed_at", sa.DateTime(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_ref"),
    )
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.create_index("ix_connections_next_due_at", ["next_due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_connections_organization"), ["organization"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_connections_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_connections_state"), ["state"], unique=False)

    op.create_table(
        "slack_deliveries",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("slack_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_slack_deliveries_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "connection_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("from_state", sa.String(length=32), nullable=True),
        sa.Column("to_state", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("connection_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_connection_events_connection_id"), ["connection_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("connection_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connection_events_connection_id"))

    op.drop_table("connection_events")
    with op.batch_alter_table("slack_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_deliveries_received_at"))

    op.drop_table("slack_deliveries")
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connections_state"))
        batch_op.drop_index(batch_op.f("ix_connections_owner_id"))
        batch_op.drop_index(batch_op.f("ix_connections_organization"))
        batch_op.drop_index("ix_connections_next_due_at")

    op.drop_table("connections")
