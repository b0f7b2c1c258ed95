"""Opening modals from a trigger_id, which Slack honours for 3 seconds and once."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from slack_sdk import WebClient

from bot.connections.model import Connection
from bot.connections.service import ConnectionNotFound
from bot.deps import SlackDeps
from bot.slack import blocks

# Slack applies our ack's "update" when it gets the HTTP answer; a views.update sent
# sooner could land first and be overwritten by the "please wait" view.
_AFTER_ACK = 0.3

TRIGGER_FAILED = (
    "Slack did not let me open the form in time (it allows 3 seconds). "
    "Please try again: run /connect-bitbucket or press the button once more."
)


def open_request_form(
    deps: SlackDeps,
    client: WebClient,
    *,
    user: str,
    trigger_id: str,
    channel: str,
    organization: str = "",
) -> None:
    """The connect form, for whoever may start a connection (checked on the urgent pool,
    since it may ask Slack who the user is); anyone else is told why not."""
    deps.work.submit(
        "opening the connect form",
        partial(open_request_form_now, deps, client, user, trigger_id, channel, organization),
        urgent=True,
        on_error=lambda _e: deps.notifier.tell_user(channel, user, TRIGGER_FAILED),
    )


def open_request_form_now(
    deps: SlackDeps,
    client: WebClient,
    user: str,
    trigger_id: str,
    channel: str,
    organization: str,
    *,
    prefill: dict[str, Any] | None = None,
) -> None:
    """The same, for code already on the urgent pool; `prefill` fills more of the form."""
    refusal = deps.access.refusal_to_start(user)
    if refusal is not None:
        deps.notifier.tell_user(channel, user, refusal)
        return
    form = blocks.RequestForm(
        channel_id=channel,
        organization=organization,
        # The organization's last workspace, so a second connection is one click less.
        workspace=deps.prefills.workspace(organization),
        ask_reason=deps.access.needs_approval,
        tfe_host=deps.pages.tfe_host,
    )
    if prefill:
        form = replace(form, **prefill)
    client.views_open(trigger_id=trigger_id, view=blocks.request_view(form))


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
        modal.show(blocks.message_view(title, "That connection no longer exists."))
        return None
