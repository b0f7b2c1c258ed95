"""The queue of due work: connections whose next_due_at has come, leased to one worker at a time.

A lease runs out by itself if its worker dies; a worker known to be dead (an earlier run of
this process on this host) has its leases freed at start.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    bindparam,
    case,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.connections.columns import UTCDateTime
from bot.connections.leases import NOW, Leases
from bot.connections.model import BULK_PREDICATE, PEOPLE_PREDICATE, Connection

# The two lanes of due connections. Written out as the partial indexes say them (migration
# 0013), so that the database uses the lane's own index: a round of health checks due for
# 10,000 connections is never read past to find one token check.
PEOPLE = "people"  # open connections (token checks, reminders, expiries), re-authorizations
BULK = "bulk"  # settled ones (connected, broken): health checks
_LANE_WHERE: dict[str, ColumnElement[bool]] = {
    PEOPLE: literal_column(f"({PEOPLE_PREDICATE})", Boolean),
    BULK: literal_column(f"({BULK_PREDICATE})", Boolean),
}


# The type of the queue's times, for bound times that no column comparison types.
UTC_TIME = UTCDateTime()


def worker_name() -> str:
    """Unique per process, readable in the database: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def gone_on_this_host(owners: list[str], me: str) -> list[str]:
    """Workers of this host that are no longer running: an earlier run of this process
    (same pid, as in a restarted container) or a pid that no longer exists."""
    host, pid, _ = me.split(":")
    gone = []
    for owner in owners:
        parts = owner.split(":")
        if len(parts) != 3 or parts[0] != host or owner == me or not parts[1].isdigit():
            continue
        if parts[1] == pid or not _running(int(parts[1])):
            gone.append(owner)
    return gone


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DueQueue:
    """Claims, renews and releases leases on due connections; each method one transaction."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self.leases = Leases(sessions, clock, Connection)

    def claim_due(
        self, worker: str, *, limit: int, lease_seconds: float, lane: str | None = None
    ) -> list[int]:
        """Lease up to `limit` connections whose next_due_at has come (in one lane, or
        either); returns their ids."""

        def due() -> Select[Any]:
            query = (
                select(Connection.id)
                .where(Connection.next_due_at <= bindparam(NOW))
                .order_by(Connection.next_due_at)
                .limit(bindparam("limit"))
            )
            return query.where(_LANE_WHERE[lane]) if lane is not None else query

        with self._sessions.begin() as session:
            return self.leases.claim(session, lane, due, worker, lease_seconds, {"limit": limit})

    def due_in(self, lane: str) -> float | None:
        """Seconds until the lane's next free connection is due (None: none is scheduled);
        read along the lane's index, like the claim."""
        with self._sessions.begin() as session:
            return self.leases.due_in(
                session,
                lane,
                lambda: (
                    select(Connection.next_due_at)
                    .where(Connection.next_due_at.is_not(None))
                    .where(_LANE_WHERE[lane])
                ),
            )

    def renew_lease(self, connection_id: int, worker: str, seconds: float) -> bool:
        """Extend this worker's claim on a connection; False if it no longer holds it."""
        now = self._clock.now()
        renew = self.leases.kept(
            "renew_one",
            lambda: (
                update(Connection)
                .where(Connection.id == bindparam("connection_id"))
                .where(Connection.lease_owner == bindparam("worker"))
                .where(Connection.lease_until >= bindparam(NOW))
                .values(lease_until=bindparam("until"))
            ),
        )
        # Each handled connection runs this and finish_due: kept statements on the session's
        # connection, without the ORM's bulk-update bookkeeping (nothing here is loaded).
        with self._sessions.begin() as session:
            result = session.connection().execute(
                renew,
                {
                    "connection_id": connection_id,
                    "worker": worker,
                    NOW: now,
                    "until": now + timedelta(seconds=seconds),
                },
            )
            return bool(result.rowcount)

    def release_leases(self, owners: list[str]) -> int:
        """Free the claims of workers known to be gone; returns how many rows were freed."""
        return self.leases.release(owners)

    def lease_owners(self) -> list[str]:
        """Workers holding claims right now."""
        return self.leases.owners()

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
        finish = self.leases.kept(
            "finish",
            lambda: (
                update(Connection)
                .where(Connection.id == bindparam("connection_id"))
                .where(Connection.lease_owner == bindparam("worker"))
                .values(
                    lease_owner=None,
                    lease_until=None,
                    # Typed: inside a CASE they would not take the column's type by
                    # themselves, and an aware time would reach the database as it is.
                    next_due_at=case(
                        (
                            Connection.updated_at > bindparam("claimed_at"),
                            bindparam(NOW, type_=UTC_TIME),
                        ),
                        else_=bindparam("next_due_at", type_=UTC_TIME),
                    ),
                )
            ),
        )
        with self._sessions.begin() as session:
            session.connection().execute(
                finish,
                {
                    "connection_id": connection_id,
                    "worker": worker,
                    "claimed_at": claimed_at,
                    NOW: self._clock.now(),
                    "next_due_at": next_due_at,
                },
            )
