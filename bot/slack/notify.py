"""Posting and updating the bot's messages: the progress message, DMs, channel notices."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from datetime import datetime, tzinfo
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.approve.store import ApprovalCards
from bot.connections import schedule
from bot.connections.model import Connection
from bot.connections.pages import Pages
from bot.connections.service import ConnectionService
from bot.slack import blocks
from bot.slack.audience import Audience
from bot.slack.blocks import health as health_blocks
from bot.slack.directory import is_member
from bot.slack.dm_cards import DmCards, card_metadata
from bot.slack.text import fit

log = logging.getLogger(__name__)

# Errors that mean "the bot cannot post in that channel", so the owner's DM is used instead.
_CANNOT_POST = {
    "not_in_channel",
    "channel_not_found",
    "is_archived",
    "restricted_action",
    "cannot_dm_bot",
    "ekm_access_denied",
}


class Notifier:
    """Keeps each connection's Slack messages in step with its state."""

    def __init__(
        self,
        client: WebClient,
        service: ConnectionService,
        pages: Pages,
        *,
        poll_every: float,
        approvers: Audience,
        cards: ApprovalCards,
    ) -> None:
        self.client = client
        self.service = service
        self.pages = pages
        self.poll_every = poll_every
        self.approvers = approvers
        self.cards = cards
        self.dm_cards = DmCards(client)
        self._zones: dict[str, tuple[float, str]] = {}
        self._locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)

    def refresh_progress(self, connection_id: int) -> Connection:
        """Post the progress message, or update it in place if it exists."""
        with self._locks[connection_id]:
            connection = self.service.get(connection_id)
            text, body = blocks.progress_message(
                connection,
                values=self.pages.consumer_values(connection),
                pages=self.pages.bitbucket(connection),
                poll_every=self.poll_every,
                approvers=self._approver_ids(),
            )
            if connection.progress_ts and connection.progress_channel:
                self.client.chat_update(
                    channel=connection.progress_channel,
                    ts=connection.progress_ts,
                    text=text,
                    blocks=body,
                )
                return connection
            channel, ts = self._post_where_possible(connection, text, body)
            return self.service.update(connection_id, progress_channel=channel, progress_ts=ts)

    def _post_where_possible(
        self, connection: Connection, text: str, body: list[dict[str, Any]]
    ) -> tuple[str, str]:
        try:
            answer = self.client.chat_postMessage(
                channel=connection.channel_id, text=text, blocks=body, unfurl_links=False
            )
            return str(answer["channel"]), str(answer["ts"])
        except SlackApiError as error:
            if error.response.get("error") not in _CANNOT_POST:
                raise
            log.info(
                "cannot post in the channel, using the owner's DM",
                extra={"connection": connection.id, "error": error.response.get("error")},
            )
        dm = self.owner_dm(connection)
        answer = self.client.chat_postMessage(
            channel=dm,
            text=text,
            blocks=[
                blocks.context_block(
                    "I can't post in the channel where you started this, so I'll keep you "
                    "posted here. Invite me to the channel (/invite) to have it there next time."
                ).to_dict(),
                *body,
            ],
        )
        return str(answer["channel"]), str(answer["ts"])

    def _approver_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self.approvers.users)) + self.approvers.groups

    # Approvals.

    def send_approval_cards(self, connection: Connection) -> list[str]:
        """DM every approver (members of approver groups too) a card; returns who got one.

        The requester's own card has no buttons; a requester who is the only approver is
        told that nobody can approve it as things stand.
        """
        members = self.approvers.members()
        # Sent again after a crash: only the approvers who have no card yet get one.
        carded = {card.approver_id for card in self.cards.of(connection.id)}
        for approver in members:
            if approver in carded:
                continue
            text, body = blocks.approval_card(connection, approver)
            dm = self._dm(approver)
            taken = self.dm_cards.find(dm, connection.id)
            if taken:
                # Slack took a card whose answer was lost: adopt it, never post a second.
                self.client.chat_update(channel=dm, ts=taken[0], text=text, blocks=body)
                self.cards.add(connection.id, approver, dm, taken[0])
                continue
            answer = self.client.chat_postMessage(
                channel=dm, text=text, blocks=body, metadata=card_metadata(connection.id)
            )
            self.cards.add(connection.id, approver, str(answer["channel"]), str(answer["ts"]))
        if not carded and (members == [connection.owner_id] or not members):
            self.tell_user(None, connection.owner_id, blocks.sole_approver_note(connection))
        return members

    def update_cards(self, connection: Connection) -> None:
        """Show every approver's card as it now stands: no live Approve/Deny once decided,
        also on a card Slack took whose answer was lost (found in the approver's DM)."""
        cards = self.cards.of(connection.id)
        recorded = {(card.channel, card.ts) for card in cards}
        for approver in self.approvers.members():
            dm = self._dm(approver)
            for ts in self.dm_cards.find(dm, connection.id):
                if (dm, ts) in recorded:
                    continue
                text, body = blocks.earlier_card(connection, approver)
                try:
                    self.client.chat_update(channel=dm, ts=ts, text=text, blocks=body)
                except SlackApiError:
                    log.warning("could not update a lost card", extra={"connection": connection.id})
        for card in cards:
            text, body = blocks.approval_card(connection, card.approver_id)
            try:
                self.client.chat_update(channel=card.channel, ts=card.ts, text=text, blocks=body)
            except SlackApiError as error:
                log.warning(
                    "could not update an approver's card",
                    extra={
                        "connection": connection.id,
                        "user": card.approver_id,
                        "error": error.response.get("error"),
                    },
                )

    def tell_decision(self, connection: Connection) -> None:
        """The requester hears the outcome, with the reason when denied."""
        text, body = blocks.decision_message(connection)
        self.client.chat_postMessage(channel=self.owner_dm(connection), text=text, blocks=body)

    def remind_approvers(
        self, connection: Connection, *, number: int, expires: datetime
    ) -> list[str]:
        """DM each approver a reminder with the buttons again; returns who got one.

        The reminder becomes the approver's card: the one before loses its buttons, so a
        decision (which updates the card) leaves no live button behind.
        """
        told = []
        for approver in self.approvers.members():
            text, body = blocks.approver_reminder(
                connection, approver, number=number, expires=expires
            )
            dm = self._dm(approver)
            answer = self.client.chat_postMessage(
                channel=dm, text=text, blocks=body, metadata=card_metadata(connection.id)
            )
            told.append(approver)
            before = self.cards.move(
                connection.id, approver, str(answer["channel"]), str(answer["ts"])
            )
            if before is not None:
                self._retire_card(connection, approver, *before)
        return told

    def _retire_card(self, connection: Connection, approver: str, channel: str, ts: str) -> None:
        text, body = blocks.earlier_card(connection, approver)
        try:
            self.client.chat_update(channel=channel, ts=ts, text=text, blocks=body)
        except SlackApiError as error:
            log.warning(
                "could not take the buttons off an earlier card",
                extra={
                    "connection": connection.id,
                    "user": approver,
                    "error": error.response.get("error"),
                },
            )

    # After "connected".

    def announce_broken(self, connection: Connection) -> None:
        """The channel, the owner and every approver hear it broke, with Reconnect."""
        text, body = health_blocks.broken_message(connection)
        channel = connection.announce_channel
        self.client.chat_postMessage(channel=channel, text=text, blocks=body)
        for user in {connection.owner_id, *self.approvers.members()}:
            self.client.chat_postMessage(channel=self._dm(user), text=text, blocks=body)

    def tell_wrong_account(self, connection: Connection) -> None:
        """The owner: authorized as another account than the service account; a fresh link."""
        text, body = blocks.wrong_account_message(connection)
        self.client.chat_postMessage(channel=self.owner_dm(connection), text=text, blocks=body)

    def announce_healed(self, connection: Connection) -> None:
        text, body = health_blocks.healed_message(connection)
        channel = connection.announce_channel
        self.client.chat_postMessage(channel=channel, text=text, blocks=body)

    def tell_owner_left(self, connection: Connection) -> list[str]:
        """The channel and the approvers hear the connection rests on someone who left."""
        text, body = health_blocks.owner_left_message(connection)
        channel = connection.announce_channel
        self.client.chat_postMessage(channel=channel, text=text, blocks=body)
        told = [channel]
        for approver in self.approvers.members():
            self.client.chat_postMessage(channel=self._dm(approver), text=text, blocks=body)
            told.append(approver)
        return told

    def has_left(self, user: str) -> bool:
        """Deactivated, or now a guest: no longer someone who can look after a connection."""
        try:
            person = self.client.users_info(user=user)["user"]
        except SlackApiError:
            return False  # not known to have left
        return not is_member(person)

    def dm(self, user: str) -> str:
        """The bot's DM channel with `user`."""
        return self._dm(user)

    def _dm(self, user: str) -> str:
        return str(self.client.conversations_open(users=user)["channel"]["id"])

    def owner_dm(self, connection: Connection) -> str:
        """The owner's DM channel with the bot, opened once and remembered."""
        if connection.owner_dm_channel:
            return connection.owner_dm_channel
        answer = self.client.conversations_open(users=connection.owner_id)
        channel = str(answer["channel"]["id"])
        self.service.update(connection.id, owner_dm_channel=channel)
        return channel

    def send_authorize_link(self, connection: Connection) -> None:
        """DM the Authorize button to the owner alone."""
        link = self.pages.authorize_link(connection)
        if link is None:
            return
        text, body = blocks.authorize_message(connection, link)
        answer = self.client.chat_postMessage(
            channel=self.owner_dm(connection), text=text, blocks=body
        )
        self.service.update(connection.id, authorize_message_ts=str(answer["ts"]))

    def send_authorize_hint(self, connection: Connection) -> None:
        """Tell the owner why the token may not have arrived, most likely cause first."""
        text, body = blocks.authorize_hint(connection, self.pages.authorize_link(connection))
        self.client.chat_postMessage(channel=self.owner_dm(connection), text=text, blocks=body)

    def announce_connected(self, connection: Connection) -> None:
        """Tell the channel the connection is complete."""
        text, body = blocks.connected_announcement(connection)
        channel = connection.announce_channel
        self.client.chat_postMessage(channel=channel, text=text, blocks=body)

    def owner_zone(self, connection: Connection) -> tzinfo | None:
        """The owner's time zone from Slack, asked once and kept ("" when Slack won't say)."""
        if connection.owner_tz is None:
            try:
                user = self.client.users_info(user=connection.owner_id)["user"]
                name = str(user.get("tz") or "")
            except SlackApiError as error:
                log.info(
                    "owner's time zone unknown",
                    extra={"connection": connection.id, "error": error.response.get("error")},
                )
                name = ""
            self.service.update(connection.id, owner_tz=name)
            return schedule.owner_zone(name)
        return schedule.owner_zone(connection.owner_tz)

    def user_zone(self, user: str) -> tzinfo | None:
        """Anyone's time zone from Slack, asked at most once a day per user."""
        now = time.monotonic()
        cached = self._zones.get(user)
        if cached is not None and now - cached[0] < 86400:
            return schedule.owner_zone(cached[1])
        try:
            name = str(self.client.users_info(user=user)["user"].get("tz") or "")
        except SlackApiError:
            name = ""
        self._zones[user] = (now, name)
        return schedule.owner_zone(name)

    def remind(self, connection: Connection, *, number: int, expires: datetime) -> list[str]:
        """DM the owner a reminder; returns where it went."""
        text, body = blocks.reminder_message(connection, number=number, expires=expires)
        channel = self.owner_dm(connection)
        self.client.chat_postMessage(channel=channel, text=text, blocks=body)
        return [connection.owner_id]

    def escalate(self, connection: Connection, *, reminders: int, approvers: Audience) -> list[str]:
        """Tell the connection's channel (mentioning the approvers) and DM each approver,
        members of approver groups included; returns who was told."""
        text, body = blocks.escalation_message(
            connection,
            reminders=reminders,
            approvers=tuple(sorted(approvers.users)) + approvers.groups,
        )
        channel = connection.announce_channel
        told = [channel]
        self.client.chat_postMessage(channel=channel, text=text, blocks=body)
        for approver in approvers.members():
            dm = self.client.conversations_open(users=approver)["channel"]["id"]
            self.client.chat_postMessage(channel=dm, text=text, blocks=body)
            told.append(approver)
        return told

    def tell_ended(self, connection: Connection, summary: str) -> None:
        text, body = blocks.ended_message(connection, summary)
        self.client.chat_postMessage(channel=self.owner_dm(connection), text=text, blocks=body)

    def send_step(self, connection: Connection) -> None:
        """DM the owner the current step with its controls (for Resume)."""
        body = blocks.step_blocks(
            connection,
            values=self.pages.consumer_values(connection),
            pages=self.pages.bitbucket(connection),
            poll_every=self.poll_every,
        )
        self.client.chat_postMessage(
            channel=self.owner_dm(connection),
            text=f"Connection #{connection.id}: where you left off",
            blocks=[b.to_dict() for b in body],
        )

    def tell_user(
        self,
        channel: str | None,
        user: str,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        """An ephemeral note to one user where they are, or a DM when that fails."""
        text = fit(text, 3000)
        if channel:
            try:
                self.client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks)
                return
            except SlackApiError:
                pass
        dm = self.client.conversations_open(users=user)["channel"]["id"]
        self.client.chat_postMessage(channel=dm, text=text, blocks=blocks)
