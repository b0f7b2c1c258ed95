"""What the first connection owes Slack: the progress message kept in step with the state,
the Authorize link and its hint to the owner, the wrong-account note, the step for Resume,
and the channel's "connected"."""

from __future__ import annotations

import threading
from collections import defaultdict

from bot.connect.blocks import StepsOf, progress_message, step_blocks
from bot.connect.message_blocks import (
    authorize_hint,
    authorize_message,
    connected_announcement,
    wrong_account_message,
)
from bot.connections.model import Connection
from bot.connections.outbox import Owed
from bot.connections.states import State
from bot.slack.courier import Send
from bot.slack.notify import Notifier


class ConnectMessages:
    def __init__(
        self, notifier: Notifier, *, poll_every: float, data_center_steps: StepsOf | None = None
    ) -> None:
        self.notifier = notifier
        self.poll_every = poll_every
        self.data_center_steps = data_center_steps  # a Data Center connection's own steps
        # One progress message per connection, however many threads refresh it.
        self._locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)

    def refresh_progress(self, connection_id: int) -> Connection:
        """Post the progress message, or update it in place if it exists."""
        notifier = self.notifier
        with self._locks[connection_id]:
            connection = notifier.service.get(connection_id)
            text, body = progress_message(
                connection,
                values=notifier.pages.consumer_values(connection),
                pages=notifier.pages.bitbucket(connection),
                poll_every=self.poll_every,
                approvers=notifier.approver_ids(),
                data_center_steps=self.data_center_steps,
            )
            if connection.progress_ts and connection.progress_channel:
                notifier.client.chat_update(
                    channel=connection.progress_channel,
                    ts=connection.progress_ts,
                    text=text,
                    blocks=body,
                )
                return connection
            channel, ts = notifier.post_where_possible(connection, text, body)
            return notifier.service.update(connection_id, progress_channel=channel, progress_ts=ts)

    def send_authorize_link(self, connection: Connection) -> None:
        """DM the Authorize button to the owner alone."""
        notifier = self.notifier
        link = notifier.pages.authorize_link(connection)
        if link is None:
            return
        text, body = authorize_message(connection, link)
        answer = notifier.client.chat_postMessage(
            channel=notifier.owner_dm(connection), text=text, blocks=body
        )
        notifier.service.update(connection.id, authorize_message_ts=str(answer["ts"]))

    def send_authorize_hint(self, connection: Connection) -> None:
        """Tell the owner why the token may not have arrived, most likely cause first."""
        notifier = self.notifier
        text, body = authorize_hint(connection, notifier.pages.authorize_link(connection))
        notifier.client.chat_postMessage(
            channel=notifier.owner_dm(connection), text=text, blocks=body
        )

    def announce_connected(self, connection: Connection) -> None:
        """Tell the channel the connection is complete."""
        text, body = connected_announcement(connection)
        self.notifier.client.chat_postMessage(
            channel=connection.announce_channel, text=text, blocks=body
        )

    def tell_wrong_account(self, connection: Connection) -> None:
        """The owner: authorized as another account than the service account; a fresh link."""
        text, body = wrong_account_message(connection)
        self.notifier.client.chat_postMessage(
            channel=self.notifier.owner_dm(connection), text=text, blocks=body
        )

    def send_step(self, connection: Connection) -> None:
        """DM the owner the current step with its controls (for Resume)."""
        notifier = self.notifier
        body = step_blocks(
            connection,
            values=notifier.pages.consumer_values(connection),
            pages=notifier.pages.bitbucket(connection),
            poll_every=self.poll_every,
            data_center_steps=self.data_center_steps,
        )
        notifier.client.chat_postMessage(
            channel=notifier.owner_dm(connection),
            text=f"Connection #{connection.id}: where you left off",
            blocks=[b.to_dict() for b in body],
        )

    def sends(self) -> dict[Owed, Send]:
        """What the first connection owes, for the courier."""
        return {
            Owed.PROGRESS: self._refresh,
            Owed.CONNECTED: lambda connection, _: self.announce_connected(connection),
            Owed.AUTHORIZE: self._authorize_link_if_waiting,
            Owed.WRONG_ACCOUNT: self._wrong_account_if_still,
        }

    def _refresh(self, connection: Connection, _detail: str) -> None:
        self.refresh_progress(connection.id)

    def _authorize_link_if_waiting(self, connection: Connection, _detail: str) -> None:
        if connection.state == State.AWAITING_AUTHORIZATION:  # not once it moved on
            self.send_authorize_link(connection)

    def _wrong_account_if_still(self, connection: Connection, _detail: str) -> None:
        if connection.wrong_account:
            self.tell_wrong_account(connection)
