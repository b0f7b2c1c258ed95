"""A planned move nobody decides is reminded and expires like a stalled approval: its
deciders get a fresh card every REMIND_EVERY after STALL_AFTER, and after EXPIRE_AFTER it
expires (nothing is moved). Run as due work of the move's new connection."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.clock import Clock
from bot.connections import schedule
from bot.connections.move_tables import Move
from bot.connections.notices import Notices
from bot.connections.schedule import StallPolicy
from bot.move.messages import MoveMessages
from bot.move.store import Moves
from bot.slack.courier import Courier

log = logging.getLogger(__name__)


def _kind(move: Move) -> str:
    return f"move_reminder:{move.id}"


class MoveReminders:
    def __init__(
        self,
        moves: Moves,
        messages: MoveMessages,
        notices: Notices,
        courier: Courier,
        policy: StallPolicy,
        clock: Clock,
    ) -> None:
        self.moves = moves
        self.messages = messages
        self.notices = notices
        self.courier = courier
        self.policy = policy
        self.clock = clock

    def due(self, connection_id: int) -> datetime | None:
        """Remind or expire the moves to this connection that wait for a decision; returns
        when to look again (None: none waits)."""
        times = [self._one(move) for move in self.moves.planned_into(connection_id)]
        present = [t for t in times if t is not None]
        return min(present) if present else None

    def _one(self, move: Move) -> datetime | None:
        now = self.clock.now()
        expires = schedule.expires_at(move.created_at, self.policy)
        if now >= expires:
            _, expired = self.moves.cancel(move.id, "bot", expired=True)
            if expired:
                log.info(
                    "a move nobody decided expired", extra={"connection": move.to_connection_id}
                )
                self.courier.deliver(move.to_connection_id)
            return None
        slot = schedule.reminder_slot(move.created_at, now, self.policy)
        if slot is not None:
            self._remind(move, slot, expires)
        return min(expires, schedule.next_slot(move.created_at, now, self.policy))

    def _remind(self, move: Move, slot: datetime, expires: datetime) -> None:
        deciders = self.messages.deciders(move)
        if not self.notices.claim(move.to_connection_id, _kind(move), slot, deciders):
            return  # another replica sent this interval's reminder
        first = schedule.stalled_at(move.created_at, self.policy)
        number = int((slot - first).total_seconds() // self.policy.remind_every) + 1
        try:
            self.messages.remind(move, number=number, expires=expires)
        except Exception:
            self.notices.release(move.to_connection_id, _kind(move), slot)
            raise
        log.info("reminded the deciders of a move", extra={"connection": move.to_connection_id})
