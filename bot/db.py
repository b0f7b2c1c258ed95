"""Engine, sessions and schema migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import importlib.util
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from bot.redaction import REDACTOR

log = logging.getLogger(__name__)


def _migrations() -> Path:
    """The Alembic scripts: `migrations/` beside `bot/` in a checkout, `bot/_migrations`
    once installed from a wheel (pyproject.toml ships them there)."""
    checkout = Path(__file__).resolve().parent.parent / "migrations"
    if (checkout / "env.py").is_file():
        return checkout
    spec = importlib.util.find_spec("bot._migrations")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return checkout


MIGRATIONS = _migrations()

# What a database that cannot be used raises, whatever the driver.
OPERATIONAL_ERRORS = (OperationalError, ProgrammingError, DBAPIError)


class DatabaseProblem(Exception):
    """DATABASE_URL cannot be used; the message is one line naming it, with the fix."""


def explain(error: BaseException) -> DatabaseProblem:
    """One line for a driver's error: its first line, without the SQL or a traceback."""
    original = getattr(error, "orig", None) or error
    reason = (str(original).strip().splitlines() or [type(original).__name__])[0]
    if "no such table" in reason or ("does not exist" in reason and "relation" in reason):
        return DatabaseProblem(
            "DATABASE_URL: the database has no connect-bitbucket tables yet; run "
            "`python -m bot migrate` first (or point DATABASE_URL at the bot's database)"
        )
    return DatabaseProblem(f"DATABASE_URL: cannot use the database ({reason})")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def open_existing(url: str, **kwargs: Any) -> Engine:
    """An engine on a database the bot has migrated, or DatabaseProblem saying what to do;
    never creates a SQLite file (reading must leave no empty database behind)."""
    try:
        path = sqlite_path(url)
    except ArgumentError:
        raise DatabaseProblem("DATABASE_URL is not a database URL") from None
    if path is not None and not path.is_file():
        raise DatabaseProblem(
            f"DATABASE_URL: there is no SQLite database at {path}; run `python -m bot migrate` "
            "(or `serve`) to create it, or point DATABASE_URL at the bot's database"
        )
    engine = make_engine(url, **kwargs)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
    except OPERATIONAL_ERRORS as error:
        engine.dispose()
        raise explain(error) from None
    if "connections" not in tables:
        engine.dispose()
        raise explain(Exception("no such table: connections"))
    return engine


def normalize_url(url: str) -> str:
    """Use the psycopg 3 driver for plain PostgreSQL URLs (as platforms such as Heroku give)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine that is safe to share between the web threads and the scheduler."""
    url = normalize_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _serialize_sqlite_writers(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)
    event.listen(engine, "before_cursor_execute", _scrub_parameters, retval=True)
    return engine


def _scrub_parameters(
    _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
) -> tuple[str, Any]:
    # Every database write passes here: a secret in flight is never stored, whatever text
    # (an outside error, a note) carried it.
    if REDACTOR.active:
        parameters = REDACTOR.scrub_deep(parameters)
    return statement, parameters


def _serialize_sqlite_writers(engine: Engine) -> None:
    # pysqlite's deferred transactions can fail with "database is locked" when two
    # threads upgrade a read to a write at once; BEGIN IMMEDIATE takes the write lock
    # up front and waits for it instead.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL cannot corrupt the database; it syncs at checkpoints instead
        # of at every commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest migration this installation carries (reading the scripts costs more than
    the rest of a start: read once a process)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _at_head(url: str, engine: Engine | None = None) -> bool:
    """Whether the database says it is at head already; False when it has no version
    table yet. A database that cannot be reached raises, as the upgrade would. Asked on
    `engine` when given (the bot's own, at start: no second engine and connection)."""
    own = engine is None
    if engine is None:
        engine = create_engine(normalize_url(url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            try:
                found = connection.execute(text("SELECT version_num FROM alembic_version")).all()
            except DBAPIError:
                return False
    finally:
        if own:
            engine.dispose()
    return [row[0] for row in found] == [head_revision()]


def migrate(url: str, *, engine: Engine | None = None) -> None:
    """Bring the schema up to date (safe to run from several replicas at once); a database
    that cannot be used raises DatabaseProblem. `engine`, on the same database, is asked
    whether there is anything to do."""
    try:
        if _at_head(url, engine):
            log.info("database schema is up to date")
            return
        command.upgrade(alembic_config(url), "head")
    except ArgumentError:
        raise DatabaseProblem("DATABASE_URL is not a database URL") from None
    except OPERATIONAL_ERRORS as error:
        raise explain(error) from None
    log.info("database schema is up to date")
