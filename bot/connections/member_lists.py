"""Slack's member list, read by one replica per interval and kept in the database, so the
other replicas load it from there instead of asking Slack again (users.list is Tier 2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.connections.model import MemberList, MemberListEntry

# A read claimed this long ago and never finished belonged to a replica that died.
STALE_READ = timedelta(minutes=10)


@dataclass(frozen=True)
class Snapshot:
    id: int
    started_at: datetime
    floor: int  # member_changes up to this id are in it


class MemberLists:
    """The member_lists tables; each method one transaction."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def claim(self, slot: int, reader: str, floor: int) -> bool:
        """Take the right to read this interval's list (or a dead reader's); False when
        another replica has it. The reader that holds it may claim again (a resumed read)."""
        now = self._clock.now()
        try:
            with self._sessions.begin() as session:
                session.add(MemberList(slot=slot, read_by=reader, started_at=now, floor=floor))
            return True
        except IntegrityError:
            pass
        with self._sessions.begin() as session:
            result = session.execute(
                update(MemberList)
                .where(MemberList.slot == slot, MemberList.finished_at.is_(None))
                .where(
                    or_(
                        MemberList.read_by == reader,
                        MemberList.started_at < now - STALE_READ,
                    )
                )
                .values(read_by=reader)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def save(self, slot: int, members: dict[str, bool]) -> None:
        """The list just read, in place of the older ones."""
        rows = [{"user_id": u, "full_member": f} for u, f in members.items()]
        with self._sessions.begin() as session:
            listed = session.scalars(select(MemberList).where(MemberList.slot == slot)).one()
            for start in range(0, len(rows), 5000):
                session.execute(
                    insert(MemberListEntry),
                    [dict(row, list_id=listed.id) for row in rows[start : start + 5000]],
                )
            listed.finished_at = self._clock.now()
            older = select(MemberList.id).where(MemberList.id != listed.id)
            session.execute(delete(MemberListEntry).where(MemberListEntry.list_id.in_(older)))
            session.execute(
                delete(MemberList).where(
                    MemberList.id != listed.id, MemberList.finished_at.is_not(None)
                )
            )

    def newest(self) -> Snapshot | None:
        with self._sessions.begin() as session:
            found = session.scalars(
                select(MemberList)
                .where(MemberList.finished_at.is_not(None))
                .order_by(MemberList.started_at.desc())
            ).first()
            if found is None:
                return None
            return Snapshot(found.id, found.started_at, found.floor)

    def entries(self, snapshot: Snapshot) -> dict[str, bool]:
        with self._sessions.begin() as session:
            rows = session.execute(
                select(MemberListEntry.user_id, MemberListEntry.full_member).where(
                    MemberListEntry.list_id == snapshot.id
                )
            )
            return {str(u): bool(f) for u, f in rows}
