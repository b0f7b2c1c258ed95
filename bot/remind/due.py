"""What people's lane does for a stalled connection: remind (not in the night of whoever
gets it), escalate and expire."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol

from bot.clock import Clock
from bot.connections import schedule
from bot.connections.model import Connection
from bot.connections.notices import ESCALATION, REMINDER, Notices
from bot.connections.outbox import Owed
from bot.connections.schedule import PEOPLE_MUST_ACT
from bot.connections.service import ConnectionService
from bot.connections.states import State
from bot.problems import Problem
from bot.remind import messages
from bot.remind.flow import StallFlow
from bot.slack.audience import Audience
from bot.slack.courier import Courier
from bot.slack.notify import Notifier

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE = 30.0
# A reminder waits for the approvers' cards; look again this soon.
CARDS_FIRST_RETRY = 1.0


class RemindApprovers(Protocol):
    def __call__(self, connection: Connection, *, number: int, expires: datetime) -> list[str]: ...


class Reminders:
    """Reminding, escalating and expiring stalled connections (DueWork hands them over)."""

    def __init__(
        self,
        service: ConnectionService,
        notices: Notices,
        stall: StallFlow,
        notifier: Notifier,
        courier: Courier,
        clock: Clock,
        approvers: Audience | None,
        remind_approvers: RemindApprovers,
    ) -> None:
        self.service = service
        self.notices = notices
        self.stall = stall
        self.notifier = notifier
        self.courier = courier
        self.clock = clock
        self.approvers = approvers
        self.remind_approvers = remind_approvers  # the approval's reminder, with its buttons

    def night(self, connection: Connection) -> datetime | None:
        """The coming morning if a reminder now would land in the night of whoever gets it:
        the owner, or (waiting for approval) every approver."""
        if connection.state not in PEOPLE_MUST_ACT:
            return None
        now = self.clock.now()
        if schedule.reminder_slot(connection.progressed_at, now, self.stall.policy) is None:
            return None  # nothing to send yet: no need to ask Slack for time zones
        if connection.state == State.AWAITING_APPROVAL:
            mornings = [
                schedule.morning_after_night(now, self.notifier.user_zone(approver))
                for approver in self.notifier.approvers.members()
            ]
            if not mornings or any(m is None for m in mornings):
                return None  # someone is awake: remind now
            return min(m for m in mornings if m is not None)
        return schedule.morning_after_night(now, self.notifier.owner_zone(connection))

    def cards_owed(self, connection: Connection) -> bool:
        if connection.state != State.AWAITING_APPROVAL:
            return False
        owed = self.courier.outbox.owed(connection.id)
        return any(debt.kind == Owed.SEND_CARDS.value for debt in owed)

    def remind(
        self, connection: Connection, slot: datetime, *, number: int, escalate: bool
    ) -> None:
        approval = connection.state == State.AWAITING_APPROVAL
        recipients = self.notifier.approvers.members() if approval else [connection.owner_id]
        if not self.notices.claim(connection.id, REMINDER, slot, recipients):
            return  # another replica sent this interval's reminder
        expires = schedule.expires_at(connection.progressed_at, self.stall.policy)
        try:
            if approval:
                self.remind_approvers(connection, number=number, expires=expires)
            else:
                messages.remind(self.notifier, connection, number=number, expires=expires)
        except Exception:
            self.notices.release(connection.id, REMINDER, slot)
            raise
        if approval:
            self.service.record(connection.id, "bot", f"reminded the approvers (reminder {number})")
        log.info(
            "reminded the approvers" if approval else "reminded the owner",
            extra={"connection": connection.id, "user": connection.owner_id},
        )
        if escalate:
            self._escalate(connection, reminders=number - 1)

    def _escalate(self, connection: Connection, *, reminders: int) -> None:
        slot = self.stall.escalation_slot(connection)
        channel = connection.announce_channel
        approvers = self.approvers or Audience(self.notifier.client, ())
        if not self.notices.claim(
            connection.id, ESCALATION, slot, [channel, *approvers.users, *approvers.groups]
        ):
            return
        try:
            messages.escalate(self.notifier, connection, reminders=reminders, approvers=approvers)
        except Exception:
            self.notices.release(connection.id, ESCALATION, slot)
            raise
        log.info("escalated a stalled connection", extra={"connection": connection.id})

    def expire(self, connection: Connection) -> datetime | None:
        days = self.stall.policy.expire_after / 86400
        reason = (
            f"Expired after {days:g} days without progress."
            if days >= 1
            else f"Expired after {self.stall.policy.expire_after:g} seconds without progress."
        )
        try:
            ended, _cleanup = self.stall.end(
                connection.id, State.EXPIRED, actor="bot", reason=reason
            )
        except Problem:
            log.warning("expiry postponed", extra={"connection": connection.id})
            return self.clock.now() + timedelta(seconds=RETRY_AFTER_FAILURE)
        self.courier.deliver(ended.id)
        return None
