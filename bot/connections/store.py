"""What every part of ConnectionService shares: a transaction, a connection read under a
row lock, and a row of the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.connections.model import Connection, ConnectionEvent
from bot.connections.outbox import Owed, owe
from bot.connections.states import SETTLED, State, check_transition, is_open
from bot.connections.wakeups import due_now
from bot.problems import Problem


class ConnectionNotFound(Problem):
    """No connection has this id (a stale button, a typo, a tampered value)."""

    def __init__(self, connection_id: int) -> None:
        super().__init__(f"There is no connection #{connection_id}.", retryable=False)
        self.connection_id = connection_id


class Store:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def _locked(self, session: Session, connection_id: int) -> Connection:
        query = select(Connection).where(Connection.id == connection_id)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        connection = session.scalars(query).first()
        if connection is None:
            raise ConnectionNotFound(connection_id)
        return connection

    def _move(
        self,
        session: Session,
        connection: Connection,
        target: State,
        actor: str,
        now: datetime,
        *,
        note: str | None = None,
    ) -> None:
        current = connection.state
        check_transition(current, target)
        if (is_open(current) and not is_open(target)) or target == State.FAILED:
            connection.last_open_state = current
        connection.state = target
        connection.updated_at = now
        connection.progressed_at = now
        # Any move changes what is due; the sweep looks at an open connection at once and
        # works out when it is next due.
        connection.next_due_at = now if is_open(target) or target in SETTLED else None
        due_now(session)
        self._record(session, connection, current, target, actor, now, note=note)
        owe(session, connection.id, [Owed.PROGRESS, Owed.HOME], now)

    def _record(
        self,
        session: Session,
        connection: Connection,
        from_state: State | None,
        to_state: State,
        actor: str,
        now: datetime,
        *,
        note: str | None = None,
    ) -> None:
        session.add(
            ConnectionEvent(
                connection_id=connection.id,
                at=now,
                actor=actor,
                from_state=from_state,
                to_state=to_state,
                note=note,
            )
        )
