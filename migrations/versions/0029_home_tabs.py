"""App Home tabs are published with the hash of the last one, so a late publish cannot
overwrite a newer one

Revision ID: 0029
Revises: 0028
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "home_tabs",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("hash", sa.String(128), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("rendered_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("home_tabs")
