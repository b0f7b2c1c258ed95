"""Read-only questions about connections, for status, App Home and the audit export."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Boolean, ColumnElement, func, literal_column, select
from sqlalchemy.orm import Session, sessionmaker

from bot.connections.model import (
    FINISHED_PREDICATE,
    Connection,
    ConnectionEvent,
    same_organization,
)
from bot.connections.states import FINAL, SETTLED, State, is_open

OPEN = [s for s in State if is_open(s)]
# Audit rows fetched from the database at a time.
STREAM_CHUNK = 1000


class TrailRow(NamedTuple):
    """One audit event with its connection's organization."""

    at: datetime
    connection_id: int
    organization: str
    actor: str
    from_state: State | None
    to_state: State
    note: str | None


ENDED = sorted(FINAL | SETTLED)


class Listed(list[Connection]):
    """The first rows of a list, and how many the whole list has (for "and N more")."""

    def __init__(self, rows: list[Connection], total: int) -> None:
        super().__init__(rows)
        self.total = total


class Queries:
    """Each method one short read transaction; results are detached rows."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def _list(self, query: object) -> list[Connection]:
        with self._sessions.begin() as session:
            return list(session.scalars(query))  # type: ignore[call-overload]

    def _listed(self, where: list[ColumnElement[bool]], order: list[Any], limit: int) -> Listed:
        """The first `limit` rows and the exact count, in one read transaction."""
        with self._sessions.begin() as session:
            rows = list(
                session.scalars(select(Connection).where(*where).order_by(*order).limit(limit))
            )
            total = (
                len(rows)
                if len(rows) < limit
                else int(
                    session.scalar(select(func.count()).select_from(Connection).where(*where)) or 0
                )
            )
        return Listed(rows, total)

    def open_owned_by(self, user: str, limit: int = 100) -> Listed:
        return self._listed(
            [Connection.owner_id == user, Connection.state.in_(OPEN)],
            [Connection.id.desc()],
            limit,
        )

    def open_in_channel(
        self, channel: str, limit: int = 100, *, besides: str = "", approver: bool = False
    ) -> Listed:
        """The channel's open connections, less those `besides` owns (and, for an approver,
        those waiting for approval): each is listed once, elsewhere, and counted once."""
        where = [Connection.channel_id == channel, Connection.state.in_(OPEN)]
        if besides:
            where.append(Connection.owner_id != besides)
        if approver:
            where.append(Connection.state != State.AWAITING_APPROVAL)
        return self._listed(where, [Connection.id.desc()], limit)

    def awaiting_approval(self, limit: int = 100, *, besides: str = "") -> Listed:
        """What waits for an approver, less `besides`'s own requests (nobody approves theirs)."""
        where = [Connection.state == State.AWAITING_APPROVAL]
        if besides:
            where.append(Connection.owner_id != besides)
        return self._listed(where, [Connection.id], limit)

    def finished(
        self, limit: int, *, since: datetime, connected_only: bool = False
    ) -> list[Connection]:
        """The most recently ended (or, with connected_only, completed) connections that
        changed after `since`: read backwards along the updated_at index, never the whole
        history."""
        # Written as the partial index says it, so the database walks that index backwards.
        finished = (
            Connection.state == State.CONNECTED
            if connected_only
            else literal_column(FINISHED_PREDICATE, Boolean)
        )
        return self._list(
            select(Connection)
            .where(Connection.updated_at >= since, finished)
            .order_by(Connection.updated_at.desc(), Connection.id.desc())
            .limit(limit)
        )

    def last_workspace(self, organization: str) -> str | None:
        """The Bitbucket workspace of the organization's latest connection (to prefill)."""
        with self._sessions.begin() as session:
            query = (
                select(Connection.bitbucket_workspace)
                .where(same_organization(organization))
                .where(Connection.bitbucket_workspace.is_not(None))
                .order_by(Connection.id.desc())
            )
            return session.scalars(query).first()

    def broken_clients(self, organization: str, workspace: str | None) -> dict[str, int]:
        """OAuth client id -> connection, for the broken connections of this organization
        and Bitbucket workspace: a new connection there replaces them."""
        found = self._list(
            select(Connection).where(
                same_organization(organization),
                Connection.bitbucket_workspace == workspace,
                Connection.state == State.BROKEN,
                Connection.oauth_client_id.is_not(None),
            )
        )
        return {str(c.oauth_client_id): c.id for c in found}

    def latest_for_organization(self, organization: str) -> Connection | None:
        found = self._list(
            select(Connection)
            .where(same_organization(organization))
            .order_by(Connection.id.desc())
            .limit(1)
        )
        return found[0] if found else None

    def events(
        self, *, since: datetime | None = None, organization: str | None = None
    ) -> Iterator[TrailRow]:
        """The audit trail, oldest first, streamed: rows come from a server-side cursor
        (PostgreSQL) or the driver's own cursor (SQLite) a thousand at a time, so a million
        rows never sit in memory at once."""
        query = (
            select(
                ConnectionEvent.at,
                ConnectionEvent.connection_id,
                Connection.organization,
                ConnectionEvent.actor,
                ConnectionEvent.from_state,
                ConnectionEvent.to_state,
                ConnectionEvent.note,
            )
            .join(Connection, Connection.id == ConnectionEvent.connection_id)
            .order_by(ConnectionEvent.at, ConnectionEvent.id)
            .execution_options(yield_per=STREAM_CHUNK)
        )
        if since is not None:
            query = query.where(ConnectionEvent.at >= since)
        if organization is not None:
            query = query.where(same_organization(organization))
        with self._sessions.begin() as session:
            for row in session.execute(query):
                yield TrailRow(*row)
