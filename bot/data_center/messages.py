"""What the Data Center steps owe Slack: the application link's values to the owner and to
the colleague the owner named, the token's SSH key to the owner, the progress message's
step, and the hint when Authorize brought no token."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.connections.model import Connection
from bot.connections.outbox import Owed
from bot.connections.pages import Pages
from bot.connections.states import SETTLED, State
from bot.data_center import blocks
from bot.slack.courier import Send
from bot.slack.notify import Notifier


class DataCenterMessages:
    def __init__(self, notifier: Notifier, pages: Pages) -> None:
        self.notifier = notifier
        self.pages = pages

    def step_blocks(self, connection: Connection) -> list[Block]:
        """The progress message's current step for a Data Center connection ([] when the
        Cloud flow's own step serves, as Authorize does)."""
        return blocks.step_blocks(
            connection,
            self.pages.application_link(connection),
            self.pages.ssh_keys_page(connection),
        )

    def send_authorize_hint(self, connection: Connection) -> None:
        text, body = blocks.authorize_hint(connection, self.pages.authorize_link(connection))
        self.notifier.client.chat_postMessage(
            channel=self.notifier.owner_dm(connection), text=text, blocks=body
        )

    def sends(self) -> dict[Owed, Send]:
        return {
            Owed.LINK_STEPS: self._link_to_owner,
            Owed.LINK_HANDOFF: self._link_to_helper,
            Owed.SSH_KEY: self._ssh_key_to_owner,
        }

    def _link_to_owner(self, connection: Connection, _detail: str) -> None:
        if connection.state != State.AWAITING_LINK:
            return
        text, body = blocks.link_message(
            connection, self.pages.application_link(connection), for_helper=False
        )
        self.notifier.client.chat_postMessage(
            channel=self.notifier.owner_dm(connection), text=text, blocks=body
        )

    def _link_to_helper(self, connection: Connection, helper: str) -> None:
        if connection.state != State.AWAITING_LINK or connection.link_helper != helper:
            return  # moved on, or handed to someone else since
        text, body = blocks.link_message(
            connection, self.pages.application_link(connection), for_helper=True
        )
        self.notifier.client.chat_postMessage(
            channel=self.notifier.dm(helper), text=text, blocks=body
        )

    def _ssh_key_to_owner(self, connection: Connection, detail: str) -> None:
        which, _, token = (detail or "").partition(" ")
        if not connection.ssh_public_key or token != connection.ssh_key_token:
            return  # a newer token has its own key (and message)
        if which == "first" and connection.state != State.AWAITING_SSH_KEY:
            return  # done, or ended, before this went out
        if which == "replace" and connection.state not in SETTLED:
            return
        text, body = blocks.ssh_key_message(connection, self.pages.ssh_keys_page(connection))
        self.notifier.client.chat_postMessage(
            channel=self.notifier.owner_dm(connection), text=text, blocks=body
        )
