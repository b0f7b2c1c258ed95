"""The kit every feature posts with: DMs, the owner's DM, posting where possible, time zones,
a note to one user. What each message says, and when it is owed, lives in its feature."""

from __future__ import annotations

import logging
import time
from datetime import tzinfo
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.connections import schedule
from bot.connections.model import Connection
from bot.connections.pages import Pages
from bot.connections.service import ConnectionService
from bot.slack.audience import Audience
from bot.slack.blocks.kit import context_block
from bot.slack.directory import is_member
from bot.slack.dm_cards import DmCards
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
    """Where the bot's messages go, for every feature."""

    def __init__(
        self,
        client: WebClient,
        service: ConnectionService,
        pages: Pages,
        *,
        approvers: Audience,
    ) -> None:
        self.client = client
        self.service = service
        self.pages = pages
        self.approvers = approvers
        self.dm_cards = DmCards(client)
        self._zones: dict[str, tuple[float, str]] = {}

    def post_where_possible(
        self, connection: Connection, text: str, body: list[dict[str, Any]]
    ) -> tuple[str, str]:
        """Post in the connection's channel, or in the owner's DM when the bot cannot post
        there; returns (channel, ts)."""
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
                context_block(
                    "I can't post in the channel where you started this, so I'll keep you "
                    "posted here. Invite me to the channel (/invite) to have it there next time."
                ).to_dict(),
                *body,
            ],
        )
        return str(answer["channel"]), str(answer["ts"])

    def approver_ids(self) -> tuple[str, ...]:
        """The approvers as configured (users, then groups), for mentions."""
        return tuple(sorted(self.approvers.users)) + self.approvers.groups

    def has_left(self, user: str) -> bool:
        """Deactivated, or now a guest: no longer someone who can look after a connection."""
        try:
            person = self.client.users_info(user=user)["user"]
        except SlackApiError:
            return False  # not known to have left
        return not is_member(person)

    def dm(self, user: str) -> str:
        """The bot's DM channel with `user`."""
        return str(self.client.conversations_open(users=user)["channel"]["id"])

    def owner_dm(self, connection: Connection) -> str:
        """The owner's DM channel with the bot, opened once and remembered."""
        if connection.owner_dm_channel:
            return connection.owner_dm_channel
        answer = self.client.conversations_open(users=connection.owner_id)
        channel = str(answer["channel"]["id"])
        self.service.update(connection.id, owner_dm_channel=channel)
        return channel

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
