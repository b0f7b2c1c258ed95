"""Where each approver's card about a connection is, so a decision updates every card."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.connections.card_tables import ApprovalCard


class ApprovalCards:
    """The approval_cards table; each method one transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, connection_id: int, approver: str, channel: str, ts: str) -> None:
        """Remember where an approver's card is (once per approver and connection)."""
        try:
            with self._sessions.begin() as session:
                session.add(
                    ApprovalCard(
                        connection_id=connection_id, approver_id=approver, channel=channel, ts=ts
                    )
                )
        except IntegrityError:
            pass

    def of(self, connection_id: int) -> list[ApprovalCard]:
        """Every approver's card about this connection."""
        with self._sessions.begin() as session:
            query = select(ApprovalCard).where(ApprovalCard.connection_id == connection_id)
            return list(session.scalars(query.order_by(ApprovalCard.id)))

    def move(
        self, connection_id: int, approver: str, channel: str, ts: str
    ) -> tuple[str, str] | None:
        """The approver's live card is now the message at (channel, ts); returns where the
        previous one was, or None when there was none."""
        with self._sessions.begin() as session:
            card = session.scalars(
                select(ApprovalCard)
                .where(ApprovalCard.connection_id == connection_id)
                .where(ApprovalCard.approver_id == approver)
                .with_for_update()
            ).first()
            if card is None:
                session.add(
                    ApprovalCard(
                        connection_id=connection_id, approver_id=approver, channel=channel, ts=ts
                    )
                )
                return None
            before = (card.channel, card.ts)
            card.channel, card.ts = channel, ts
            return before
