"""What every button and every modal submission does before its own work, in one place.

A button: ack, then on the pool drop Slack's repeated delivery, find the connection from the
button's value ("no longer exists" otherwise), and hand it to the step (which decides who
may; `owner_only` lets only the owner through). A modal: read the connection id from the
view's metadata ("no longer exists" otherwise), ack with a busy view, then run the step on
the pool with the open modal to answer in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.connections.model import Connection
from bot.connections.service import ConnectionNotFound
from bot.deps import SlackDeps
from bot.slack import forms
from bot.slack.blocks.kit import busy_view, message_view
from bot.slack.modals import OpenModal

# What a button does once its connection is found.
Step = Callable[[SlackDeps, Connection, dict[str, Any], WebClient], None]
# What a modal does after its busy ack: (the open modal, the connection's id).
ModalStep = Callable[[OpenModal, int], None]


def action_of(body: dict[str, Any]) -> dict[str, Any]:
    """The pressed element of a block_actions body."""
    return (body.get("actions") or [{}])[0]


def channel_of(body: dict[str, Any]) -> str | None:
    """Where the press happened: a channel, or a DM's."""
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


def on_connection_button(
    deps: SlackDeps,
    body: dict[str, Any],
    client: WebClient,
    what: str,
    step: Step,
    *,
    urgent: bool = False,
    owner_only: bool = False,
) -> None:
    """Run `step` after the ack for the button's connection; `what` names the work in the
    message a failure leaves ("Something went wrong while …")."""
    user, channel = body["user"]["id"], channel_of(body)
    deps.work.submit(
        what,
        partial(_find_and_run, deps, body, client, step, owner_only),
        urgent=urgent,
        on_error=lambda _e: deps.notifier.tell_user(
            channel,
            user,
            f"Something went wrong while {what}. Press the button again; "
            "if it keeps happening, tell whoever runs the bot.",
        ),
    )


def _find_and_run(
    deps: SlackDeps, body: dict[str, Any], client: WebClient, step: Step, owner_only: bool
) -> None:
    if not deps.deliveries.first_time(body):
        return
    user, channel = body["user"]["id"], channel_of(body)
    connection_id = forms.connection_id(action_of(body).get("value"))
    try:
        if connection_id is None:
            raise ConnectionNotFound(0)
        connection = deps.service.get(connection_id)
    except ConnectionNotFound:
        deps.notifier.tell_user(channel, user, "That connection no longer exists.")
        return
    if owner_only and connection.owner_id != user:
        deps.notifier.tell_user(
            channel,
            user,
            f"Only <@{connection.owner_id}>, who owns connection #{connection.id}, "
            "can do that. To connect another organization, run /connect-bitbucket.",
        )
        return
    step(deps, connection, body, client)


def on_connection_modal(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    deps: SlackDeps,
    *,
    title: str,
    busy: str,
    what: str,
    step: ModalStep,
    again: str,
    key: str = "connection",
) -> None:
    """The modal prelude: the connection's id from the metadata (`key`), a busy ack, then
    `step` on the pool; `again` says how to retry when the bot fails."""
    connection_id = forms.connection_id(forms.metadata(body).get(key))
    if connection_id is None:
        ack(response_action="update", view=message_view(title, f"That {key} no longer exists."))
        return
    ack(response_action="update", view=busy_view(title, busy))
    modal = OpenModal(client, body["view"]["id"], time.monotonic())
    deps.work.submit(
        what,
        partial(step, modal, connection_id),
        connection=connection_id if key == "connection" else None,
        on_error=lambda _e: modal.show(
            message_view(title, f"Something went wrong on the bot's side; {again}")
        ),
    )
