"""Changes in who is a full member, written by the replica that heard them from Slack and
read by every replica on its next tick (Slack sends an event to one replica only)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.connections.model import MemberChange


class MemberChanges:
    """The member_changes table; each method one transaction."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def record(self, user: str, full_member: bool) -> int:
        """Write a change; returns its id."""
        with self._sessions.begin() as session:
            change = MemberChange(
                user_id=user, full_member=full_member, changed_at=self._clock.now()
            )
            session.add(change)
            session.flush()
            return change.id

    def last_id(self) -> int:
        with self._sessions.begin() as session:
            return int(session.scalar(select(func.max(MemberChange.id))) or 0)

    def since(self, window: timedelta) -> list[tuple[int, str, bool]]:
        """(id, user, full member) of the changes of the last `window`, oldest first.

        Read by time, not after the last id seen: on PostgreSQL a change may commit after
        one with a higher id, and a reader that moved past that id would never see it.
        """
        with self._sessions.begin() as session:
            rows = session.execute(
                select(MemberChange.id, MemberChange.user_id, MemberChange.full_member)
                .where(MemberChange.changed_at >= self._clock.now() - window)
                .order_by(MemberChange.id)
            )
            return [(int(i), str(u), bool(f)) for i, u, f in rows]

    def forget(self, older_than: timedelta) -> int:
        """Drop changes every replica has long read (a starting replica reads Slack's list)."""
        with self._sessions.begin() as session:
            result = session.execute(
                delete(MemberChange).where(MemberChange.changed_at < self._clock.now() - older_than)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]
