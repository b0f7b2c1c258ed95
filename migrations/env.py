"""Alembic environment: runs migrations on the bot's engine, one replica at a time."""

from alembic import context
from sqlalchemy import text

from bot.connections.model import Base
from bot.db import make_engine

# Any PostgreSQL advisory lock id will do as long as it is fixed; it makes replicas
# that start together run the migrations one after the other.
_MIGRATION_LOCK = 7_364_412_001


def run_migrations_online() -> None:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK})
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if postgres:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK})
                connection.commit()
    engine.dispose()


run_migrations_online()
