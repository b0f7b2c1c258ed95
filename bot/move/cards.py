"""Where each person's card about a move is, so every later state updates it in place."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.connections.card_tables import MoveCard


class MoveCards:
    """The move_cards table; each method one transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, move_id: int, user: str, channel: str, ts: str) -> None:
        """Remember where a person's card is (once per person and move)."""
        try:
            with self._sessions.begin() as session:
                session.add(MoveCard(move_id=move_id, user_id=user, channel=channel, ts=ts))
        except IntegrityError:
            pass  # another replica recorded it first

    def of(self, move_id: int) -> list[MoveCard]:
        with self._sessions.begin() as session:
            query = select(MoveCard).where(MoveCard.move_id == move_id).order_by(MoveCard.id)
            return list(session.scalars(query))

    def move(self, move_id: int, user: str, channel: str, ts: str) -> tuple[str, str] | None:
        """The person's live card is now the message at (channel, ts) (a reminder); returns
        where the previous one was, or None when there was none."""
        with self._sessions.begin() as session:
            card = session.scalars(
                select(MoveCard)
                .where(MoveCard.move_id == move_id, MoveCard.user_id == user)
                .with_for_update()
            ).first()
            if card is None:
                session.add(MoveCard(move_id=move_id, user_id=user, channel=channel, ts=ts))
                return None
            before = (card.channel, card.ts)
            card.channel, card.ts = channel, ts
            return before
