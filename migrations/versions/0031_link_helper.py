"""Bitbucket Data Center: the colleague the owner handed the application link step to, and
which token the SSH key shown was given to

Revision ID: 0031
Revises: 0030
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("connections", sa.Column("link_helper", sa.String(32), nullable=True))
    op.add_column("connections", sa.Column("ssh_key_token", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("connections", "ssh_key_token")
    op.drop_column("connections", "link_helper")
