"""What an approval owes Slack: a card to every approver (adopting one Slack took but whose
answer was lost), the cards kept in step with the decision, the requester told the outcome,
and the approvers reminded."""

from __future__ import annotations

import logging
from datetime import datetime

from slack_sdk.errors import SlackApiError

from bot.approve.blocks import (
    approval_card,
    approver_reminder,
    decision_message,
    earlier_card,
    sole_approver_note,
)
from bot.approve.store import ApprovalCards
from bot.connections.model import Connection
from bot.connections.outbox import Owed
from bot.connections.states import State
from bot.slack.courier import Send
from bot.slack.dm_cards import card_metadata
from bot.slack.notify import Notifier

log = logging.getLogger(__name__)


class ApprovalMessages:
    def __init__(self, notifier: Notifier, cards: ApprovalCards) -> None:
        self.notifier = notifier
        self.cards = cards

    def send_approval_cards(self, connection: Connection) -> list[str]:
        """DM every approver (members of approver groups too) a card; returns who got one.

        The requester's own card has no buttons; a requester who is the only approver is
        told that nobody can approve it as things stand.
        """
        notifier = self.notifier
        members = notifier.approvers.members()
        # Sent again after a crash: only the approvers who have no card yet get one.
        carded = {card.approver_id for card in self.cards.of(connection.id)}
        for approver in members:
            if approver in carded:
                continue
            text, body = approval_card(connection, approver)
            dm = notifier.dm(approver)
            taken = notifier.dm_cards.find(dm, connection.id)
            if taken:
                # Slack took a card whose answer was lost: adopt it, never post a second.
                notifier.client.chat_update(channel=dm, ts=taken[0], text=text, blocks=body)
                self.cards.add(connection.id, approver, dm, taken[0])
                continue
            answer = notifier.client.chat_postMessage(
                channel=dm, text=text, blocks=body, metadata=card_metadata(connection.id)
            )
            self.cards.add(connection.id, approver, str(answer["channel"]), str(answer["ts"]))
        if not carded and (members == [connection.owner_id] or not members):
            notifier.tell_user(None, connection.owner_id, sole_approver_note(connection))
        return members

    def update_cards(self, connection: Connection) -> None:
        """Show every approver's card as it now stands: no live Approve/Deny once decided,
        also on a card Slack took whose answer was lost (found in the approver's DM)."""
        notifier = self.notifier
        cards = self.cards.of(connection.id)
        recorded = {(card.channel, card.ts) for card in cards}
        for approver in notifier.approvers.members():
            dm = notifier.dm(approver)
            for ts in notifier.dm_cards.find(dm, connection.id):
                if (dm, ts) not in recorded:
                    self._update(connection, approver, dm, ts, earlier=True)
        for card in cards:
            self._update(connection, card.approver_id, card.channel, card.ts, earlier=False)

    def tell_decision(self, connection: Connection) -> None:
        """The requester hears the outcome, with the reason when denied."""
        text, body = decision_message(connection)
        self.notifier.client.chat_postMessage(
            channel=self.notifier.owner_dm(connection), text=text, blocks=body
        )

    def remind_approvers(
        self, connection: Connection, *, number: int, expires: datetime
    ) -> list[str]:
        """DM each approver a reminder with the buttons again; returns who got one.

        The reminder becomes the approver's card: the one before loses its buttons, so a
        decision (which updates the card) leaves no live button behind.
        """
        notifier = self.notifier
        told = []
        for approver in notifier.approvers.members():
            text, body = approver_reminder(connection, approver, number=number, expires=expires)
            answer = notifier.client.chat_postMessage(
                channel=notifier.dm(approver),
                text=text,
                blocks=body,
                metadata=card_metadata(connection.id),
            )
            told.append(approver)
            before = self.cards.move(
                connection.id, approver, str(answer["channel"]), str(answer["ts"])
            )
            if before is not None:
                self._update(connection, approver, *before, earlier=True)
        return told

    def _update(
        self, connection: Connection, approver: str, channel: str, ts: str, *, earlier: bool
    ) -> None:
        """One card as it now stands (an earlier one: without buttons); a failure is logged,
        since the other cards still get theirs."""
        render = earlier_card if earlier else approval_card
        text, body = render(connection, approver)
        try:
            self.notifier.client.chat_update(channel=channel, ts=ts, text=text, blocks=body)
        except SlackApiError as error:
            log.warning(
                "could not update an approver's card",
                extra={
                    "connection": connection.id,
                    "user": approver,
                    "error": error.response.get("error"),
                },
            )

    def sends(self) -> dict[Owed, Send]:
        """What an approval owes, for the courier."""
        return {
            Owed.SEND_CARDS: self._cards_if_waiting,
            Owed.CARDS: lambda connection, _: self.update_cards(connection),
            Owed.DECISION: lambda connection, _: self.tell_decision(connection),
        }

    def _cards_if_waiting(self, connection: Connection, _detail: str) -> None:
        if connection.state == State.AWAITING_APPROVAL:
            self.send_approval_cards(connection)
