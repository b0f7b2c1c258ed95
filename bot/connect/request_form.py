"""Opening the connect form, for whoever may start a connection, filled with what the bot
can suggest."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from slack_sdk import WebClient

from bot.connect.modal_blocks import request_view
from bot.deps import SlackDeps
from bot.slack.blocks.kit import RequestForm
from bot.slack.modals import TRIGGER_FAILED


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
    form = RequestForm(
        channel_id=channel,
        organization=organization,
        # The organization's last workspace, so a second connection is one click less.
        workspace=deps.prefills.workspace(organization),
        ask_reason=deps.access.needs_approval,
        tfe_host=deps.pages.tfe_host,
        offer_data_center=deps.data_center.addresses.offered,
        data_center_url=deps.data_center.addresses.preset,
    )
    if prefill:
        form = replace(form, **prefill)
    client.views_open(trigger_id=trigger_id, view=request_view(form))
