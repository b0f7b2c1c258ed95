"""Bitbucket Data Center: which Bitbucket a connection reaches, its address and version, and
the public values people paste (consumer key, application link key, SSH key)

Revision ID: 0030
Revises: 0029
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("data_center_url", sa.String(255)),
    ("data_center_version", sa.String(40)),
    ("consumer_key", sa.String(255)),
    ("link_public_key", sa.Text()),
    ("ssh_public_key", sa.Text()),
)


def upgrade() -> None:
    op.add_column(
        "connections",
        sa.Column("bitbucket", sa.String(32), nullable=False, server_default="cloud"),
    )
    for name, kind in COLUMNS:
        op.add_column("connections", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    for name, _ in reversed(COLUMNS):
        op.drop_column("connections", name)
    op.drop_column("connections", "bitbucket")
