"""The Alembic migrations build exactly the schema the models describe, and unwind."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot import db
from bot.connections.model import Base


@pytest.mark.empty_database
def test_migrations_match_the_models_and_downgrade(database_url: str) -> None:
    db.migrate(database_url)
    engine = db.make_engine(database_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    command.downgrade(db.alembic_config(database_url), "base")
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    db.migrate(database_url)  # and up again
    engine.dispose()
