"""Leases on rows (due connections, owed messages, move items): claimed by one worker at a
time, kept alive by its heartbeat, run out by themselves when it dies, and freed at start for
the workers of this host known to be gone. One helper for every leased table."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock

# How long a claim holds without a heartbeat: a replica that dies loses what it held this
# soon, and another takes it. A live one renews all its claims every HEARTBEAT_SECONDS.
LEASE_SECONDS = 5.0
HEARTBEAT_SECONDS = 1.0


# The time a claim or a look is made at: a bound parameter, so that the statements that
# compare against it are built once and kept (see `Leases.kept`).
NOW = "now"
Statement = TypeVar("Statement")


class Leases:
    """The lease columns (`lease_owner`, `lease_until`) of one table; each method one
    transaction, except `claim`, `due_in` and `renew`, which run inside the caller's."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, table: Any) -> None:
        self._sessions = sessions
        self._clock = clock
        self._table = table
        self._kept: dict[Hashable, Any] = {}

    def kept(self, key: Hashable, build: Callable[[], Statement]) -> Statement:
        """The statement `build()` makes, made once per `key` and kept. SQLAlchemy works out
        a statement's cache key once per statement object, and building one costs as much
        again: an idle lane's look, which runs every second on every replica, costs a third to
        a half less on kept ones (1.5 against 2.4 ms of CPU on SQLite, 2.0 against 3.8 on
        PostgreSQL; `make bench`, "idle replica")."""
        found = self._kept.get(key)
        if found is None:
            found = self._kept.setdefault(key, build())
        return found  # type: ignore[no-any-return]

    def free(self) -> ColumnElement[bool]:
        """Rows nobody holds (or whose holder's lease ran out) at the bound `NOW`."""
        table = self._table
        return or_(table.lease_until.is_(None), table.lease_until < bindparam(NOW))

    def claim(
        self,
        session: Session,
        key: Hashable,
        candidates: Callable[[], Select[Any]],
        worker: str,
        seconds: float,
        params: Mapping[str, Any] | None = None,
    ) -> list[int]:
        """Lease the free rows among `candidates()` (a select of ids, already filtered and
        ordered, comparing times against the bound `NOW`, kept under `key`); SKIP LOCKED on
        PostgreSQL, so replicas claiming at once take different rows. Returns the ids this
        worker now holds."""
        now = self._clock.now()
        postgresql = session.get_bind().dialect.name == "postgresql"

        def build() -> Select[Any]:
            query = candidates().where(self.free())
            return query.with_for_update(skip_locked=True) if postgresql else query

        # On the session's connection, not through the session: what comes back is ids, so
        # the ORM's result handling and its bulk update's bookkeeping would be all cost.
        connection = session.connection()
        query = self.kept(("claim", key, postgresql), build)
        ids = list(connection.execute(query, {**(params or {}), NOW: now}).scalars())
        if not ids:
            return []
        claimed = connection.execute(
            self.kept("take", self._take),
            {"ids": ids, NOW: now, "worker": worker, "until": now + timedelta(seconds=seconds)},
        ).scalars()
        return sorted(claimed)

    def _take(self) -> Any:
        table = self._table
        return (
            update(table)
            .where(table.id.in_(bindparam("ids", expanding=True)))
            .where(self.free())
            .values(lease_owner=bindparam("worker"), lease_until=bindparam("until"))
            .returning(table.id)
        )

    def due_in(
        self,
        session: Session,
        key: Hashable,
        due: Callable[[], Select[Any]],
    ) -> float | None:
        """Seconds until the first free row of `due()` (a select of its due column, already
        filtered, kept under `key`) is due, read in its order; None when there is none."""
        now = self._clock.now()

        def build() -> Select[Any]:
            query = due()
            return query.where(self.free()).order_by(query.selected_columns[0]).limit(1)

        when = session.connection().scalar(self.kept(("due_in", key), build), {NOW: now})
        return None if when is None else (when - now).total_seconds()

    def renew(self, session: Session, worker: str, until: datetime) -> None:
        """Keep every claim this worker holds alive until `until`, inside the caller's
        transaction."""
        table = self._table
        renew = self.kept(
            "renew",
            lambda: (
                update(table)
                .where(table.lease_owner == bindparam("worker"))
                .values(lease_until=bindparam("until"))
            ),
        )
        session.connection().execute(renew, {"worker": worker, "until": until})

    def release(self, owners: Sequence[str], unless: ColumnElement[bool] | None = None) -> int:
        """Free what workers known to be gone held, but rows matching `unless` (left to run
        out); returns how many rows were freed."""
        if not owners:
            return 0
        table = self._table
        query = update(table).where(table.lease_owner.in_(bindparam("owners", expanding=True)))
        if unless is not None:
            query = query.where(~unless)
        # Plain statements on the session's connection, as in `claim` (every start and stop
        # runs these; the gain was too small to measure in a bot's start and stop).
        with self._sessions.begin() as session:
            result = session.connection().execute(
                query.values(lease_owner=None, lease_until=None), {"owners": list(owners)}
            )
            return int(result.rowcount)

    def owners(self) -> list[str]:
        """Workers holding claims right now."""
        table = self._table
        query = select(table.lease_owner).where(table.lease_owner.is_not(None)).distinct()
        with self._sessions.begin() as session:
            return sorted({str(owner) for owner in session.connection().execute(query).scalars()})


def heartbeat(tables: Sequence[Leases], worker: str, seconds: float) -> None:
    """Every claim `worker` holds in `tables` lives `seconds` more, in one transaction: it
    runs every HEARTBEAT_SECONDS on every replica, busy or idle."""
    if not tables:
        return
    until = tables[0]._clock.now() + timedelta(seconds=seconds)
    with tables[0]._sessions.begin() as session:
        for table in tables:
            table.renew(session, worker, until)
