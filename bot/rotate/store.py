"""Rotating a connection's consumer key and secret (day two): asked for, approved where
approvals are configured, then the new key and secret go to Terraform and the same client
is re-authorized (part of ConnectionService)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.connections.card_tables import RotationCard
from bot.connections.model import AccountKind, Connection
from bot.connections.outbox import Owed, owe
from bot.connections.store import Store
from bot.connections.upkeep import CannotRepair, RepairReason, RotationStage, check_has_client

# How long a submission holds the rotation if its process dies mid-PATCH.
SENDING_HOLD_SECONDS = 60.0


class BeginsRepair(Protocol):
    """Starts a re-authorization inside a transaction (the repair feature's store)."""

    def begin_in(
        self,
        session: Session,
        connection: Connection,
        *,
        by: str,
        actor: str,
        reason: RepairReason,
        username: str | None,
        now: datetime,
    ) -> None: ...


class Rotations(Store):
    """The rotation columns and cards; each method one transaction. A rotation done in
    Terraform starts a re-authorization through `repairs`, in the same transaction."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, repairs: BeginsRepair
    ) -> None:
        super().__init__(sessions, clock)
        self.repairs = repairs

    def ask_rotation(
        self, connection_id: int, *, by: str, reason: str | None, needs_approval: bool
    ) -> Connection:
        """Start a rotation: waiting for an approver, or straight for the new key and secret.
        A rotation already under way is asked afresh (its old cards lose their buttons)."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            check_rotatable(connection)
            connection.rotation_by = by
            connection.rotation_reason = reason
            connection.rotation_asked_at = now
            connection.rotation_decided_by = None
            connection.rotation_stage = (
                RotationStage.AWAITING_APPROVAL
                if needs_approval
                else RotationStage.AWAITING_CREDENTIALS
            ).value
            connection.updated_at = now
            self._record(
                session,
                connection,
                connection.state,
                connection.state,
                by,
                now,
                note="asked to rotate the consumer's key and secret"
                + (" (waiting for an approver)" if needs_approval else ""),
            )
            owe(session, connection.id, [Owed.HOME], now)
            if needs_approval:
                owe(session, connection.id, [Owed.ROTATION_CARDS], now)
            return connection

    def decide_rotation(
        self, connection_id: int, approver: str, *, approve: bool
    ) -> tuple[Connection, bool]:
        """The first decision wins; returns whether this call decided."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            if connection.rotation_stage != RotationStage.AWAITING_APPROVAL:
                return connection, False
            connection.rotation_decided_by = approver
            connection.rotation_stage = (
                RotationStage.AWAITING_CREDENTIALS if approve else RotationStage.DENIED
            ).value
            connection.updated_at = now
            self._record(
                session,
                connection,
                connection.state,
                connection.state,
                approver,
                now,
                note=f"{'approved' if approve else 'denied'} the rotation asked by "
                f"<@{connection.rotation_by}>",
            )
            owe(
                session,
                connection.id,
                [
                    Owed.ROTATION_CARDS,
                    (Owed.ROTATION_DECISION, "approved" if approve else "denied"),
                    Owed.HOME,
                ],
                now,
            )
            return connection, True

    def claim_rotation(self, connection_id: int, *, by: str, needs_approval: bool) -> Connection:
        """The right to send one new key and secret to Terraform, checked and taken in one
        transaction before the PATCH: the connection still stands on a live client, an
        approver approved this person's rotation (where approvals are set), and no other
        submission holds it. Raises CannotRepair (nothing changes) otherwise."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            check_rotatable(connection)
            stage = connection.rotation_stage
            held = connection.rotation_sending_at
            if (
                stage == RotationStage.SENDING
                and held is not None
                and (now - held).total_seconds() < SENDING_HOLD_SECONDS
            ):
                raise CannotRepair(
                    f"A new key and secret for connection #{connection.id} are on their way to "
                    "Terraform already; wait for that answer.",
                    retryable=False,
                )
            approved = (
                stage in (RotationStage.AWAITING_CREDENTIALS, RotationStage.SENDING)
                and connection.rotation_by == by
                and connection.rotation_decided_by is not None
            )
            if needs_approval and not approved:
                raise CannotRepair(
                    "An approver must approve this rotation first: press Rotate to ask.",
                    retryable=False,
                )
            if not needs_approval and stage != RotationStage.AWAITING_CREDENTIALS:
                connection.rotation_decided_by = None
            connection.rotation_by = by
            connection.rotation_stage = RotationStage.SENDING.value
            connection.rotation_sending_at = now
            return connection

    def release_rotation(self, connection_id: int, *, by: str) -> None:
        """Bitbucket or Terraform said no: the one who holds the rotation may send again."""
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            if connection.rotation_stage != RotationStage.SENDING or connection.rotation_by != by:
                return
            connection.rotation_sending_at = None
            connection.rotation_stage = (
                RotationStage.AWAITING_CREDENTIALS.value
                if connection.rotation_decided_by
                else RotationStage.DONE.value
            )

    def rotated(
        self, connection_id: int, *, actor: str, link_public_key: str | None = None
    ) -> Connection:
        """Terraform took the new key and secret (for Data Center: the link's new key pair,
        whose public half is kept for the administrator): that is recorded whatever happened
        meanwhile, and the same client must now be re-authorized (tokens of the old
        consumer stop refreshing), unless the connection no longer stands on it."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            if link_public_key is not None:
                connection.link_public_key = link_public_key
            connection.rotation_stage = RotationStage.DONE.value
            connection.rotation_sending_at = None
            connection.credentials_set_at = now
            self._record(
                session,
                connection,
                connection.state,
                connection.state,
                actor,
                now,
                note="rotated the consumer's key and secret in Terraform",
            )
            try:
                check_rotatable(connection)
            except CannotRepair as problem:
                self._record(
                    session,
                    connection,
                    connection.state,
                    connection.state,
                    "bot",
                    now,
                    note=f"no re-authorization follows the rotation: {problem.message}",
                )
                return connection
            self.repairs.begin_in(
                session,
                connection,
                by=actor,
                actor=actor,
                reason=RepairReason.ROTATED,
                username=connection.bitbucket_username
                if connection.account_kind == AccountKind.SERVICE_ACCOUNT
                else None,
                now=now,
            )
            return connection

    def rotation_cards(self, connection: Connection) -> list[RotationCard]:
        """The cards of the connection's current rotation request."""
        with self._transaction() as session:
            return list(
                session.scalars(
                    select(RotationCard).where(
                        RotationCard.connection_id == connection.id,
                        RotationCard.asked_at == connection.rotation_asked_at,
                    )
                )
            )

    def stale_rotation_cards(self, connection: Connection) -> list[RotationCard]:
        """Cards of earlier rotation requests of this connection (their buttons must go)."""
        with self._transaction() as session:
            return list(
                session.scalars(
                    select(RotationCard).where(
                        RotationCard.connection_id == connection.id,
                        RotationCard.asked_at != connection.rotation_asked_at,
                    )
                )
            )

    def forget_rotation_card(self, card_id: int) -> None:
        with self._transaction() as session:
            card = session.get(RotationCard, card_id)
            if card is not None:
                session.delete(card)

    def add_rotation_card(
        self, connection: Connection, approver: str, channel: str, ts: str
    ) -> None:
        assert connection.rotation_asked_at is not None
        try:
            with self._transaction() as session:
                session.add(
                    RotationCard(
                        connection_id=connection.id,
                        asked_at=connection.rotation_asked_at,
                        approver_id=approver,
                        channel=channel,
                        ts=ts,
                    )
                )
        except IntegrityError:
            pass  # another replica recorded it first


def check_rotatable(connection: Connection) -> None:
    """Raise CannotRepair unless the connection has credentials in Terraform to rotate."""
    check_has_client(connection, "rotate", "rotated")
