"""Rotating a connection's consumer key and secret (day two): asked for, approved where
approvals are configured, then the new key and secret go to Terraform and the same client
is re-authorized (part of ConnectionService)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.connections.model import AccountKind, Connection, RotationCard
from bot.connections.outbox import Owed, owe
from bot.connections.repairs import RepairReason, Repairs, check_has_client


class RotationStage(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    AWAITING_CREDENTIALS = "awaiting_credentials"
    DENIED = "denied"
    DONE = "done"


# A rotation is under way in these stages; the others say how the last one ended.
UNDER_WAY = frozenset({RotationStage.AWAITING_APPROVAL, RotationStage.AWAITING_CREDENTIALS})


class Rotations(Repairs):
    """The rotation columns and cards; each method one transaction."""

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

    def rotated(self, connection_id: int, *, actor: str) -> Connection:
        """Terraform took the new key and secret: the rotation is done, and the same client
        must now be re-authorized (tokens of the old consumer stop refreshing)."""
        now = self._clock.now()
        with self._transaction() as session:
            connection = self._locked(session, connection_id)
            connection.rotation_stage = RotationStage.DONE.value
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
            self._begin_repair(
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
