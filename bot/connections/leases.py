"""Leases on rows (due connections, owed messages, move items): claimed by one worker at a
time, kept alive by its heartbeat, run out by themselves when it dies, and freed at start for
the workers of this host known to be gone. One helper for every leased table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock

# How long a claim holds without a heartbeat: a replica that dies loses what it held this
# soon, and another takes it. A live one renews all its claims every HEARTBEAT_SECONDS.
LEASE_SECONDS = 5.0
HEARTBEAT_SECONDS = 1.0


class Leases:
    """The lease columns (`lease_owner`, `lease_until`) of one table; each method one
    transaction, except `claim`, `due_in` and `renew`, which run inside the caller's."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, table: Any) -> None:
        self._sessions = sessions
        self._clock = clock
        self._table = table

    def free(self, now: datetime) -> ColumnElement[bool]:
        """Rows nobody holds (or whose holder's lease ran out)."""
        table = self._table
        return or_(table.lease_until.is_(None), table.lease_until < now)

    def claim(
        self, session: Session, candidates: Select[Any], worker: str, seconds: float
    ) -> list[int]:
        """Lease the free rows among `candidates` (a select of ids, already filtered and
        ordered); SKIP LOCKED on PostgreSQL, so replicas claiming at once take different
        rows. Returns the ids this worker now holds."""
        now = self._clock.now()
        query = candidates.where(self.free(now))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if not ids:
            return []
        table = self._table
        claimed = session.scalars(
            update(table)
            .where(table.id.in_(ids))
            .where(self.free(now))
            .values(lease_owner=worker, lease_until=now + timedelta(seconds=seconds))
            .returning(table.id)
        )
        return sorted(claimed)

    def due_in(self, session: Session, due: Select[Any]) -> float | None:
        """Seconds until the first free row of `due` (a select of its due column, already
        filtered) is due, read in its order; None when there is none."""
        now = self._clock.now()
        column = due.selected_columns[0]
        when = session.scalar(due.where(self.free(now)).order_by(column).limit(1))
        return None if when is None else (when - now).total_seconds()

    def renew(self, session: Session, worker: str, until: datetime) -> None:
        """Keep every claim this worker holds alive until `until`, inside the caller's
        transaction."""
        session.execute(
            update(self._table).where(self._table.lease_owner == worker).values(lease_until=until)
        )

    def release(self, owners: Sequence[str], unless: ColumnElement[bool] | None = None) -> int:
        """Free what workers known to be gone held, but rows matching `unless` (left to run
        out); returns how many rows were freed."""
        if not owners:
            return 0
        with self._sessions.begin() as session:
            query = update(self._table).where(self._table.lease_owner.in_(list(owners)))
            if unless is not None:
                query = query.where(~unless)
            result = session.execute(query.values(lease_owner=None, lease_until=None))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def owners(self) -> list[str]:
        """Workers holding claims right now."""
        with self._sessions.begin() as session:
            query = select(self._table.lease_owner).where(self._table.lease_owner.is_not(None))
            return sorted({str(owner) for owner in session.scalars(query.distinct())})


def heartbeat(tables: Sequence[Leases], worker: str, seconds: float) -> None:
    """Every claim `worker` holds in `tables` lives `seconds` more, in one transaction: it
    runs every HEARTBEAT_SECONDS on every replica, busy or idle."""
    if not tables:
        return
    until = tables[0]._clock.now() + timedelta(seconds=seconds)
    with tables[0]._sessions.begin() as session:
        for table in tables:
            table.renew(session, worker, until)
