"""Read-only questions about connections, for status, App Home and the audit export."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.connections.model import Connection, ConnectionEvent, same_organization
from bot.connections.states import FINAL, SETTLED, State, is_open

OPEN = [s for s in State if is_open(s)]
ENDED = sorted(FINAL | SETTLED)


class Queries:
    """Each method one short read transaction; results are detached rows."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def _list(self, query: object) -> list[Connection]:
        with self._sessions.begin() as session:
            return list(session.scalars(query))  # type: ignore[call-overload]

    def open_owned_by(self, user: str, limit: int = 100) -> list[Connection]:
        return self._list(
            select(Connection)
            .where(Connection.owner_id == user, Connection.state.in_(OPEN))
            .order_by(Connection.id.desc())
            .limit(limit)
        )

    def open_in_channel(self, channel: str, limit: int = 100) -> list[Connection]:
        return self._list(
            select(Connection)
            .where(Connection.channel_id == channel, Connection.state.in_(OPEN))
            .order_by(Connection.id.desc())
            .limit(limit)
        )

    def awaiting_approval(self, limit: int = 100) -> list[Connection]:
        return self._list(
            select(Connection)
            .where(Connection.state == State.AWAITING_APPROVAL)
            .order_by(Connection.id)
            .limit(limit)
        )

    def finished(self, limit: int, *, connected_only: bool = False) -> list[Connection]:
        """The most recently ended (or, with connected_only, completed) connections."""
        states = [State.CONNECTED] if connected_only else ENDED
        return self._list(
            select(Connection)
            .where(Connection.state.in_(states))
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
    ) -> Iterator[tuple[ConnectionEvent, str]]:
        """The audit trail, oldest first, with each event's organization."""
        with self._sessions.begin() as session:
            query = (
                select(ConnectionEvent, Connection.organization)
                .join(Connection, Connection.id == ConnectionEvent.connection_id)
                .order_by(ConnectionEvent.at, ConnectionEvent.id)
            )
            if since is not None:
                query = query.where(ConnectionEvent.at >= since)
            if organization is not None:
                query = query.where(same_organization(organization))
            yield from session.execute(query).tuples()
