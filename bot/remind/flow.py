"""Keeping after stalled connections: what is due, and ending one cleanly (cancel or expiry)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.clients.tfe import TFEClient, TFEError, TFEErrorKind
from bot.clock import Clock
from bot.connections import schedule
from bot.connections.model import Connection, ConnectionNotice
from bot.connections.notices import ESCALATION, REMINDER, Notices
from bot.connections.outbox import Owed
from bot.connections.service import ConnectionService
from bot.connections.states import InvalidTransition, State, is_open
from bot.problems import Problem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cleanup:
    """What ending a connection did in TFE, in words for the owner."""

    client_id: str | None
    deleted: bool
    summary: str


@dataclass(frozen=True)
class Due:
    """What the sweep should do for a connection now, and when to look again."""

    expire: bool = False
    reminder_slot: datetime | None = None
    # The number the reminder for reminder_slot gets (1 for the first of this stall).
    reminder_number: int = 0
    escalate: bool = False
    next_due: datetime | None = None


class StallFlow:
    def __init__(
        self,
        service: ConnectionService,
        notices: Notices,
        tfe: TFEClient,
        policy: schedule.StallPolicy,
        clock: Clock,
    ) -> None:
        self.service = service
        self.notices = notices
        self.tfe = tfe
        self.policy = policy
        self.clock = clock

    def due(self, connection: Connection, *, night_until: datetime | None = None) -> Due:
        """Expiry, the reminder of the current interval (unless already sent), escalation.

        `night_until` is the owner's coming morning when it is night for them now.
        """
        state = connection.state
        if not is_open(state):
            return Due()
        now = self.clock.now()
        expires = schedule.expires_at(connection.progressed_at, self.policy)
        if now >= expires:
            return Due(expire=True)
        if state not in schedule.PEOPLE_MUST_ACT:
            return Due(next_due=expires)
        slot = schedule.reminder_slot(connection.progressed_at, now, self.policy)
        following = schedule.next_slot(connection.progressed_at, now, self.policy)
        if slot is None:
            return Due(next_due=min(following, expires))
        notices = self._notices_this_stall(connection)
        reminders = [n for n in notices if n.kind == REMINDER]
        if any(n.slot_at == slot for n in reminders):
            return Due(next_due=min(following, expires))
        if night_until is not None:
            return Due(next_due=min(night_until, expires))
        escalate = len(reminders) >= self.policy.escalate_after and not any(
            n.kind == ESCALATION for n in notices
        )
        return Due(
            reminder_slot=slot,
            reminder_number=len(reminders) + 1,
            escalate=escalate,
            next_due=min(following, expires),
        )

    def _notices_this_stall(self, connection: Connection) -> list[ConnectionNotice]:
        """Reminders and escalations since the connection last made progress."""
        since = schedule.stalled_at(connection.progressed_at, self.policy)
        return self.notices.of(connection.id, since=since)

    def escalation_slot(self, connection: Connection) -> datetime:
        """One escalation per stall: keyed by when the stall began."""
        return schedule.stalled_at(connection.progressed_at, self.policy)

    def end(
        self, connection_id: int, target: State, *, actor: str, reason: str
    ) -> tuple[Connection, Cleanup]:
        """Cancel or expire: delete the OAuth client the bot made if TFE issued no token.

        Owes the progress message, the approvers' cards and, unless the owner ended it
        themselves, a word to the owner. Raises Problem when the connection already ended
        or TFE did not answer.
        """
        connection = self.service.get(connection_id)
        if not is_open(connection.state):
            raise Problem(
                f"Connection #{connection.id} has already ended ({connection.state.words}).",
                retryable=False,
            )
        try:
            cleanup = self._clean_up(connection)
        except TFEError as error:
            log.warning(
                "clean-up failed; the connection stays open",
                extra={"connection": connection_id, "status": error.status},
            )
            raise Problem(
                f"Terraform did not answer while the bot removed OAuth client "
                f"{connection.oauth_client_id}, so connection #{connection.id} stays open. "
                f"{error.user_message}"
            ) from None
        try:
            ended = self.service.advance_to(
                connection_id,
                target,
                actor=actor,
                note=cleanup.summary,
                expect=connection.state,
                status_note=f"{reason} {cleanup.summary}",
                owes=[Owed.CARDS]
                + ([] if actor == connection.owner_id else [(Owed.ENDED, cleanup.summary)]),
            )
        except InvalidTransition:
            raise Problem(f"Connection #{connection.id} changed meanwhile; look again.") from None
        log.info(
            "connection ended",
            extra={"connection": connection_id, "state": target.value, "client": cleanup.client_id},
        )
        return ended, cleanup

    def _clean_up(self, connection: Connection) -> Cleanup:
        client_id = connection.oauth_client_id
        if not client_id:
            return Cleanup(None, False, "No OAuth client had been created in Terraform.")
        try:
            tokens = self.tfe.list_oauth_tokens(client_id)
        except TFEError as error:
            if error.kind != TFEErrorKind.NOT_FOUND:
                raise
            return Cleanup(client_id, False, f"The OAuth client {client_id} was already gone.")
        if tokens:
            return Cleanup(
                client_id,
                False,
                f"The OAuth client {client_id} was kept: Terraform holds a token for it.",
            )
        try:
            self.tfe.delete_oauth_client(client_id)
        except TFEError as error:
            if error.kind != TFEErrorKind.NOT_FOUND:
                raise
        return Cleanup(
            client_id,
            True,
            f"The bot deleted the OAuth client {client_id} it had created in Terraform "
            "(it had no token).",
        )
