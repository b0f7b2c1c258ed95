"""Queries and changes to connections; each public method is one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.connections.model import (
    AccountKind,
    Connection,
    ConnectionEvent,
    ConnectionNotice,
    SlackDelivery,
)
from bot.connections.states import InvalidTransition, State, check_transition, is_open


@dataclass(frozen=True)
class NewConnection:
    """What a user asked for in the first modal."""

    request_ref: str
    team_id: str
    channel_id: str
    owner_id: str
    organization: str
    account_kind: AccountKind
    bitbucket_username: str | None = None
    bitbucket_workspace: str | None = None
    duplicates_acknowledged: bool = False


class ConnectionNotFound(Exception):
    def __init__(self, connection_id: int) -> None:
        super().__init__(f"connection {connection_id} does not exist")
        self.connection_id = connection_id


class DuplicateRequest(Exception):
    """The Slack request that would start this connection already started one."""

    def __init__(self, existing_id: int) -> None:
        super().__init__(f"this request already started connection {existing_id}")
        self.existing_id = existing_id


class OrganizationBusy(Exception):
    """The organization already has an unfinished connection."""

    def __init__(self, existing: Connection) -> None:
        super().__init__(f"connection {existing.id} is already under way")
        self.existing = existing


class ConnectionService:
    """Starts, advances and looks up connections; keeps the audit trail as it goes."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def get(self, connection_id: int) -> Connection:
        """The connection with this id, or ConnectionNotFound."""
        with self._transaction() as session:
            connection = session.get(Connection, connection_id)
            if connection is None:
                raise ConnectionNotFound(connection_id)
            return connection

    def events(self, connection_id: int) -> list[ConnectionEvent]:
        """The audit trail of one connection, oldest first."""
        with self._transaction() as session:
            query = select(ConnectionEvent).where(ConnectionEvent.connection_id == connection_id)
            return list(session.scalars(query.order_by(ConnectionEvent.id)))

    def open_for_organization(self, organization: str) -> Connection | None:
        """An unfinished connection for this organization, if one exists."""
        with self._transaction() as session:
            query = (
                select(Connection)
                .where(Connection.organization == organization)
                .where(Connection.state.in_([s for s in State if is_open(s)]))
                .order_by(Connection.id.desc())
            )
            return session.scalars(query).first()

    def start(self, request: NewConnection, *, needs_approval: bool = False) -> Connection:
        """Record a new connection and move it to its first waiting state."""
        now = self._clock.now()
        first = State.AWAITING_APPROVAL if needs_approval else State.AWAITING_CREDENTIALS
        try:
            with self._transaction() as session:
                connection = Connection(
                    request_ref=request.request_ref,
                    team_id=request.team_id,
                    channel_id=request.channel_id,
                    owner_id=request.owner_id,
                    organization=request.organization,
                    account_kind=request.account_kind,
                    bitbucket_username=request.bitbucket_username,
                    bitbucket_workspace=request.bitbucket_workspace,
                    duplicates_acknowledged=request.duplicates_acknowledged,
                    state=State.REQUESTED,
                    created_at=now,
                    updated_at=now,
                    progressed_at=now,
                )
                session.add(connection)
                session.flush()
                self._record(session, connection, None, State.REQUESTED, request.owner_id, now)
                self._move(session, connection, first, request.owner_id, now)
                return connection
        except IntegrityError:
            with self._transaction() as session:
                existing = session.scalars(
                    select(Connection.id).where(Connection.request_ref == request.request_ref)
                ).first()
            if existing is not None:
                raise DuplicateRequest(existing) from None
            busy = self.open_for_organization(request.organization)
            if busy is None:
                raise
            raise OrganizationBusy(busy) from None

    def advance_to(
        self,
        connection_id: int,
        target: State,
        *,
        actor: str,
        note: str | None = None,
        expect: State | None = None,
        **changes: Any,
    ) -> Connection:
        """Move a connection to `target` (InvalidTransition if the graph forbids it).

        `expect` makes the move conditional: it only happens from that state, which keeps
        a double click or a retried delivery from moving a connection twice.
        """
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            current = connection.state
            if expect is not None and current != expect:
                raise InvalidTransition(current, target)
            for name, value in changes.items():
                setattr(connection, name, value)
            self._move(session, connection, target, actor, now, note=note)
            return connection

    def update(self, connection_id: int, **changes: Any) -> Connection:
        """Change fields that are not the state (message timestamps, notes)."""
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            for name, value in changes.items():
                setattr(connection, name, value)
            connection.updated_at = self._clock.now()
            return connection

    def claim_client_creation(self, connection_id: int, *, stale_after: float = 300) -> bool:
        """Take the right to create this connection's OAuth client; False if another has it.

        A claim older than `stale_after` seconds belongs to a worker that died and is taken over.
        """
        now = self._clock.now()
        with self._transaction() as session:
            result = session.execute(
                update(Connection)
                .where(Connection.id == connection_id)
                .where(Connection.state == State.AWAITING_CREDENTIALS)
                .where(
                    or_(
                        Connection.client_create_started_at.is_(None),
                        Connection.client_create_started_at < now - timedelta(seconds=stale_after),
                    )
                )
                .values(client_create_started_at=now)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def release_client_creation(self, connection_id: int) -> None:
        """Give up the claim after a failed attempt, so the owner can try again."""
        with self._transaction() as session:
            session.execute(
                update(Connection)
                .where(Connection.id == connection_id)
                .values(client_create_started_at=None)
            )

    def mark_authorize_clicked(self, connection_id: int) -> bool:
        """Note the first click on Authorize and make the token check due now.

        Returns False when the connection is not waiting for authorization.
        """
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            if connection.state != State.AWAITING_AUTHORIZATION:
                return False
            if connection.authorize_clicked_at is None:
                connection.authorize_clicked_at = now
                connection.progressed_at = now  # opening the link is progress: no reminder yet
                self._record(
                    session,
                    connection,
                    connection.state,
                    connection.state,
                    connection.owner_id,
                    now,
                    note="opened the authorize link",
                )
            connection.next_due_at = now
            connection.updated_at = now
            return True

    def mark_authorize_hint_sent(self, connection_id: int) -> bool:
        """Record that the owner got the "no token yet" hint; False if someone already sent it."""
        now = self._clock.now()
        with self._transaction() as session:
            result = session.execute(
                update(Connection)
                .where(Connection.id == connection_id)
                .where(Connection.authorize_hint_sent_at.is_(None))
                .values(authorize_hint_sent_at=now)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    # Notices: a row per (connection, kind, slot) is the claim to send it, made before sending.

    def claim_notice(
        self, connection_id: int, kind: str, slot_at: datetime, recipients: list[str]
    ) -> bool:
        """Record a notice about to be sent; False if this slot's notice exists already."""
        try:
            with self._transaction() as session:
                session.add(
                    ConnectionNotice(
                        connection_id=connection_id,
                        kind=kind,
                        slot_at=slot_at,
                        recipients=",".join(recipients),
                        sent_at=self._clock.now(),
                    )
                )
            return True
        except IntegrityError:
            return False

    def release_notice(self, connection_id: int, kind: str, slot_at: datetime) -> None:
        """Forget a claimed notice whose sending failed, so it can be tried again."""
        with self._transaction() as session:
            session.execute(
                delete(ConnectionNotice)
                .where(ConnectionNotice.connection_id == connection_id)
                .where(ConnectionNotice.kind == kind)
                .where(ConnectionNotice.slot_at == slot_at)
            )

    def notices(
        self, connection_id: int, kind: str | None = None, since: datetime | None = None
    ) -> list[ConnectionNotice]:
        """Notices of a connection, oldest first, optionally of one kind and since a time."""
        with self._transaction() as session:
            query = select(ConnectionNotice).where(ConnectionNotice.connection_id == connection_id)
            if kind is not None:
                query = query.where(ConnectionNotice.kind == kind)
            if since is not None:
                query = query.where(ConnectionNotice.slot_at >= since)
            return list(session.scalars(query.order_by(ConnectionNotice.id)))

    # What is due: claimed by one worker at a time, under a lease that runs out if it dies.

    def claim_due(self, worker: str, *, limit: int, lease_seconds: float) -> list[int]:
        """Lease up to `limit` connections whose next_due_at has come; returns their ids."""
        now = self._clock.now()
        lease_until = now + timedelta(seconds=lease_seconds)
        with self._transaction() as session:
            query = (
                select(Connection.id)
                .where(Connection.next_due_at <= now)
                .where(or_(Connection.lease_until.is_(None), Connection.lease_until < now))
                .order_by(Connection.next_due_at)
                .limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(session.scalars(query))
            if not ids:
                return []
            claimed = session.scalars(
                update(Connection)
                .where(Connection.id.in_(ids))
                .where(or_(Connection.lease_until.is_(None), Connection.lease_until < now))
                .values(lease_owner=worker, lease_until=lease_until)
                .returning(Connection.id)
            )
            return sorted(claimed)

    def renew_lease(self, connection_id: int, worker: str, seconds: float) -> bool:
        """Extend this worker's claim on a connection; False if it no longer holds it."""
        now = self._clock.now()
        with self._transaction() as session:
            result = session.execute(
                update(Connection)
                .where(Connection.id == connection_id)
                .where(Connection.lease_owner == worker)
                .where(Connection.lease_until >= now)
                .values(lease_until=now + timedelta(seconds=seconds))
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def release_leases(self, owners: list[str]) -> int:
        """Free the claims of workers known to be gone; returns how many rows were freed."""
        if not owners:
            return 0
        with self._transaction() as session:
            result = session.execute(
                update(Connection)
                .where(Connection.lease_owner.in_(owners))
                .values(lease_owner=None, lease_until=None)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def lease_owners(self) -> list[str]:
        """Workers holding claims right now."""
        with self._transaction() as session:
            query = select(Connection.lease_owner).where(Connection.lease_owner.is_not(None))
            return sorted({str(owner) for owner in session.scalars(query.distinct())})

    def finish_due(
        self,
        connection_id: int,
        worker: str,
        *,
        next_due_at: datetime | None,
        claimed_at: datetime,
    ) -> None:
        """Release a lease and say when the connection is next due (None: nothing due).

        If the connection changed after `claimed_at` (a click, a move), the worker decided on
        old facts: it is due again at once instead, so the change is never lost.
        """
        now = self._clock.now()
        with self._transaction() as session:
            session.execute(
                update(Connection)
                .where(Connection.id == connection_id)
                .where(Connection.lease_owner == worker)
                .values(
                    lease_owner=None,
                    lease_until=None,
                    next_due_at=case((Connection.updated_at > claimed_at, now), else_=next_due_at),
                )
            )

    def first_delivery(self, key: str) -> bool:
        """True the first time a Slack delivery key is seen, False for every repeat."""
        try:
            with self._transaction() as session:
                session.add(SlackDelivery(key=key[:255], received_at=self._clock.now()))
            return True
        except IntegrityError:
            return False

    def forget_deliveries(self, older_than: timedelta) -> int:
        """Drop delivery keys older than Slack could ever retry; returns how many."""
        with self._transaction() as session:
            result = session.execute(
                delete(SlackDelivery).where(
                    SlackDelivery.received_at < self._clock.now() - older_than
                )
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    # Internals.

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
        connection.next_due_at = now if is_open(target) else None
        self._record(session, connection, current, target, actor, now, note=note)

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
