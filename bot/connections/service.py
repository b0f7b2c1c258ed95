"""Queries and changes to connections; each public method is one transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.connections.create_claims import CreateClaims
from bot.connections.model import (
    AccountKind,
    Bitbucket,
    Connection,
    ConnectionEvent,
    same_organization,
)
from bot.connections.outbox import Owed, owe
from bot.connections.states import (
    InvalidTransition,
    State,
    is_open,
)
from bot.connections.store import ConnectionNotFound
from bot.connections.wakeups import due_now
from bot.problems import Problem

log = logging.getLogger(__name__)


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
    reason: str | None = None
    # Limited to these projects ({id: name}); empty: the whole organization.
    projects: tuple[tuple[str, str], ...] = ()
    # Bitbucket Cloud, or a checked Data Center address and the version it gave.
    bitbucket: Bitbucket = Bitbucket.CLOUD
    data_center_url: str | None = None
    data_center_version: str | None = None


class DuplicateRequest(Exception):
    """The Slack request that would start this connection already started one."""

    def __init__(self, existing_id: int) -> None:
        super().__init__(f"this request already started connection {existing_id}")
        self.existing_id = existing_id


class OrganizationBusy(Problem):
    """The organization already has an unfinished connection."""

    def __init__(self, existing: Connection) -> None:
        super().__init__(
            f"Connection #{existing.id} for {existing.organization} is already under way "
            f"({existing.state.words}).",
            field="organization",
        )
        self.existing = existing


class ConnectionService(CreateClaims):
    """Starts, advances and looks up connections; keeps the audit trail as it goes."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        super().__init__(sessions, clock)

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
                .where(same_organization(organization))
                .where(Connection.state.in_([s for s in State if is_open(s)]))
                .order_by(Connection.id.desc())
            )
            return session.scalars(query).first()

    def settled_for_organization(self, organization: str) -> Connection | None:
        """The newest connected (else broken) connection of this organization."""
        with self._transaction() as session:
            query = (
                select(Connection)
                .where(same_organization(organization))
                .where(Connection.state.in_([State.CONNECTED, State.BROKEN]))
                .order_by((Connection.state == State.CONNECTED).desc(), Connection.id.desc())
            )
            return session.scalars(query).first()

    def replaced_by(self, connection: Connection) -> list[Connection]:
        """Older broken connections of its organization and Bitbucket workspace (for Data
        Center: of the same Data Center)."""
        where = (
            Connection.data_center_url == connection.data_center_url
            if connection.data_center
            else Connection.bitbucket_workspace == connection.bitbucket_workspace
        )
        with self._transaction() as session:
            query = select(Connection).where(
                same_organization(connection.organization),
                where,
                Connection.state == State.BROKEN,
                Connection.id < connection.id,
            )
            return list(session.scalars(query.order_by(Connection.id)))

    def start(self, request: NewConnection, *, needs_approval: bool = False) -> Connection:
        """Record a new connection and move it to its first waiting state; it owes its
        progress message (and, waiting for approval, the approvers' cards)."""
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
                    reason=request.reason,
                    project_ids=",".join(i for i, _ in request.projects) or None,
                    project_names=", ".join(n for _, n in request.projects) or None,
                    bitbucket=request.bitbucket,
                    data_center_url=request.data_center_url,
                    data_center_version=request.data_center_version,
                    client_uuid=str(uuid.uuid4()),
                    state=State.REQUESTED,
                    created_at=now,
                    updated_at=now,
                    progressed_at=now,
                )
                session.add(connection)
                session.flush()
                self._record(session, connection, None, State.REQUESTED, request.owner_id, now)
                self._move(session, connection, first, request.owner_id, now)
                if needs_approval:
                    owe(session, connection.id, [Owed.SEND_CARDS], now)
            log.info(
                "connection started",
                extra={"connection": connection.id, "organization": connection.organization},
            )
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
        owes: Sequence[Owed | tuple[Owed, str]] = (),
        unless_repairing: bool = False,
        **changes: Any,
    ) -> Connection:
        """Move a connection to `target` (InvalidTransition if the graph forbids it).

        `expect` makes the move conditional: it only happens from that state, which keeps
        a double click or a retried delivery from moving a connection twice. The move owes
        a progress message update, and `owes` more, in the same transaction.
        """
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            current = connection.state
            if expect is not None and current != expect:
                raise InvalidTransition(current, target)
            if unless_repairing and connection.repairing:
                # Someone was asked to re-authorize meanwhile: the repair watch finishes it.
                raise InvalidTransition(current, target)
            for name, value in changes.items():
                setattr(connection, name, value)
            self._move(session, connection, target, actor, now, note=note)
            owe(session, connection.id, owes, now)
            return connection

    def decide(
        self, connection_id: int, approver: str, *, approve: bool, note: str | None
    ) -> tuple[Connection, bool]:
        """An approver's decision; the first one wins. Returns the connection and whether
        this call decided (False: it was decided, or ended, before)."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            if connection.state != State.AWAITING_APPROVAL:
                return connection, False
            connection.decided_by = approver
            connection.decided_at = now
            connection.decision_note = note
            if approve:
                self._move(session, connection, State.APPROVED, approver, now, note=note)
                self._move(session, connection, State.AWAITING_CREDENTIALS, approver, now)
            else:
                self._move(session, connection, State.DENIED, approver, now, note=note)
                connection.status_note = None  # the decision fields say it
            owe(session, connection.id, [Owed.CARDS, Owed.DECISION], now)
            return connection, True

    def record(self, connection_id: int, actor: str, note: str) -> None:
        """An audit row for something that changes no state (a refusal, a reminder)."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            self._record(
                session, connection, connection.state, connection.state, actor, now, note=note
            )

    def record_health(
        self, connection_id: int, note: str | None, *, client_gone: bool = False
    ) -> None:
        """Keep the health check's result. Leaves updated_at alone: a check is not a change
        that should make the sweep look at the connection again at once."""
        with self._transaction() as session:
            session.execute(
                update(Connection)
                .where(Connection.id == connection_id)
                .values(
                    health_checked_at=self._clock.now(), health_note=note, client_gone=client_gone
                )
            )

    def update(self, connection_id: int, **changes: Any) -> Connection:
        """Change fields that are not the state (message timestamps, notes)."""
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            for name, value in changes.items():
                setattr(connection, name, value)
            connection.updated_at = self._clock.now()
            return connection

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
            due_now(session)
            connection.updated_at = now
            owe(session, connection.id, [Owed.PROGRESS, Owed.HOME], now)
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
