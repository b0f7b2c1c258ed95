"""The Data Center buttons: I've created the application link, the hand-off to a colleague,
and I've added the SSH key. Each acks at once; the store decides who may (owner, or the
colleague handed the link) inside the transaction that acts."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.connections.model import Connection
from bot.connections.service import ConnectionNotFound
from bot.connections.states import SETTLED
from bot.deps import SlackDeps
from bot.problems import Problem
from bot.slack import forms, ids
from bot.slack.preludes import action_of, channel_of, on_connection_button

_USER = re.compile(r"[UW][A-Z0-9]{2,20}")


StoreStep = Callable[[int, str], tuple[Connection, bool]]


def _take_step(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], step: StoreStep
) -> tuple[Connection, bool] | None:
    """Run a store step as the presser; a refusal (the store decides who may) is told."""
    user = body["user"]["id"]
    try:
        return step(connection.id, user)
    except Problem as refused:
        deps.notifier.tell_user(channel_of(body), user, refused.message)
        return None


def link_created(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient
) -> None:
    """The application link exists: the Authorize link goes to the owner (once)."""
    taken = _take_step(deps, connection, body, deps.data_center.link_created)
    if taken is None:
        return
    connection, moved = taken
    user = body["user"]["id"]
    if moved:
        deps.courier.deliver(connection.id)  # the progress message and the Authorize link
    elif user != connection.owner_id:
        deps.notifier.tell_user(
            channel_of(body), user, f"Connection #{connection.id} is past that step already."
        )


def ssh_key_added(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient
) -> None:
    """The SSH key is on the service user: connected, and the channel hears it (once)."""
    taken = _take_step(deps, connection, body, deps.data_center.ssh_key_added)
    if taken is None:
        return
    connection, moved = taken
    user = body["user"]["id"]
    if moved:
        deps.courier.deliver(connection.id)
        deps.after_connected(connection)
    elif connection.state in SETTLED and connection.ssh_public_key:
        # A new token's key, after a re-authorization: noted in the connection's history.
        deps.service.record(connection.id, user, "added the new token's SSH key in Bitbucket")
        deps.notifier.tell_user(
            channel_of(body), user, f"Thanks: noted in connection #{connection.id}'s history."
        )


def hand_link(deps: SlackDeps, body: dict[str, Any]) -> None:
    """The owner picked a colleague for the application link: they get its values."""
    if not deps.deliveries.first_time(body):
        return
    user, channel = body["user"]["id"], channel_of(body)
    action = action_of(body)
    block = str(action.get("block_id") or "")
    connection_id = forms.connection_id(block.removeprefix(f"{ids.LINK_HELPER}:"))
    helper = str(action.get("selected_user") or "")
    if connection_id is None or not block.startswith(f"{ids.LINK_HELPER}:"):
        deps.notifier.tell_user(channel, user, "That connection no longer exists.")
        return
    if not _USER.fullmatch(helper):
        deps.notifier.tell_user(channel, user, "Pick a person from the list to hand the step to.")
        return
    if not deps.access.may_be_handed_a_step(helper):
        deps.notifier.tell_user(
            channel,
            user,
            f"<@{helper}> is not a full member of this workspace (or Slack would not say), so "
            "I can't hand them the step. Pick a Bitbucket administrator who is.",
        )
        return
    try:
        connection = deps.data_center.hand_link_to(connection_id, user, helper)
    except ConnectionNotFound:
        deps.notifier.tell_user(channel, user, "That connection no longer exists.")
        return
    except Problem as refused:
        deps.notifier.tell_user(channel, user, refused.message)
        return
    deps.courier.deliver(connection.id)
    deps.notifier.tell_user(
        channel,
        user,
        f"I've sent <@{helper}> the application link's values for connection "
        f"#{connection.id}. Either of you presses *I've created the application link* when "
        "it is done.",
    )


def on_link_created(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    ack()
    on_connection_button(deps, body, client, "moving on to authorizing", link_created)


def on_ssh_key_added(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    ack()
    on_connection_button(deps, body, client, "finishing the connection", ssh_key_added)


def on_link_helper(ack: Ack, body: dict[str, Any], deps: SlackDeps) -> None:
    ack()
    user, channel = body["user"]["id"], channel_of(body)
    deps.work.submit(
        "handing the application link on",
        partial(hand_link, deps, body),
        on_error=lambda _e: deps.notifier.tell_user(
            channel,
            user,
            "Something went wrong while handing the step on. Pick the person again; if it "
            "keeps happening, tell whoever runs the bot.",
        ),
    )


def on_link(ack: Ack) -> None:
    """Link buttons open the browser themselves; Slack still wants an acknowledgement."""
    ack()


def register(app: App) -> None:
    app.action(ids.LINK_CREATED)(on_link_created)
    app.action(ids.SSH_KEY_ADDED)(on_ssh_key_added)
    app.action(ids.LINK_HELPER)(on_link_helper)
    app.action(ids.OPEN_APPLICATION_LINKS)(on_link)
    app.action(ids.OPEN_SSH_KEYS)(on_link)
