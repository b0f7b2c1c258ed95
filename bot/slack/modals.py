"""Opening modals from a trigger_id, which Slack honours for 3 seconds and once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient

from bot.connections.model import Connection
from bot.connections.service import ConnectionNotFound
from bot.deps import SlackDeps
from bot.slack.blocks.kit import message_view

# Slack applies our ack's "update" when it gets the HTTP answer; a views.update sent
# sooner could land first and be overwritten by the "please wait" view.
_AFTER_ACK = 0.3

TRIGGER_FAILED = (
    "Slack did not let me open the form in time (it allows 3 seconds). "
    "Please try again: run /connect-bitbucket or press the button once more."
)


@dataclass(frozen=True)
class OpenModal:
    """The modal a submission came from, updated once our ack has surely landed."""

    client: WebClient
    view_id: str
    received: float

    def show(self, view: dict[str, Any]) -> None:
        remaining = _AFTER_ACK - (time.monotonic() - self.received)
        if remaining > 0:
            time.sleep(remaining)
        self.client.views_update(view_id=self.view_id, view=view)


def submitted_connection(
    deps: SlackDeps, body: dict[str, Any], connection_id: int, modal: OpenModal, title: str
) -> Connection | None:
    """After a modal's ack: its connection, once per submission (None for a repeated
    delivery, or when it no longer exists, which the modal then says)."""
    if not deps.deliveries.first_time(body):
        return None
    try:
        return deps.service.get(connection_id)
    except ConnectionNotFound:
        modal.show(message_view(title, "That connection no longer exists."))
        return None
