"""Reminders and escalations on record: a row per (connection, kind, slot) is the claim to send.

The row is inserted before the message goes out, so no interval is reminded twice, whichever
replica gets there first; a send that fails gives its claim back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.connections.model import ConnectionNotice

REMINDER = "reminder"
ESCALATION = "escalation"
OWNER_LEFT = "owner_left"


class Notices:
    """The notices table; each method one transaction."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def claim(
        self, connection_id: int, kind: str, slot_at: datetime, recipients: list[str]
    ) -> bool:
        """Record a notice about to be sent; False if this slot's notice exists already."""
        try:
            with self._sessions.begin() as session:
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

    def release(self, connection_id: int, kind: str, slot_at: datetime) -> None:
        """Forget a claimed notice whose sending failed, so it can be tried again."""
        with self._sessions.begin() as session:
            session.execute(
                delete(ConnectionNotice)
                .where(ConnectionNotice.connection_id == connection_id)
                .where(ConnectionNotice.kind == kind)
                .where(ConnectionNotice.slot_at == slot_at)
            )

    def of(
        self, connection_id: int, kind: str | None = None, since: datetime | None = None
    ) -> list[ConnectionNotice]:
        """Notices of a connection, oldest first, optionally of one kind and since a time."""
        with self._sessions.begin() as session:
            query = select(ConnectionNotice).where(ConnectionNotice.connection_id == connection_id)
            if kind is not None:
                query = query.where(ConnectionNotice.kind == kind)
            if since is not None:
                query = query.where(ConnectionNotice.slot_at >= since)
            return list(session.scalars(query.order_by(ConnectionNotice.id)))
