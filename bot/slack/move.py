"""Move workspaces, Cancel move, Delete old client: the buttons of a move's message.
Approvers decide (where no APPROVERS are set, the new connection's owner does); the server
checks it at every press."""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.connections.move_tables import Move, MoveState
from bot.flows.republish import republish
from bot.slack import forms, ids
from bot.slack.actions import _action, _channel
from bot.slack.blocks import busy_view, message_view
from bot.slack.blocks import move as blocks
from bot.slack.deps import SlackDeps
from bot.slack.modals import TRIGGER_FAILED, OpenModal

log = logging.getLogger(__name__)


def may_decide(deps: SlackDeps, move: Move, user: str) -> bool:
    if deps.access.needs_approval:
        return deps.access.is_approver(user)
    return user == deps.service.get(move.to_connection_id).owner_id


def _pressed(deps: SlackDeps, body: dict[str, Any], what: str) -> None:
    if not deps.deliveries.first_time(body):
        return
    user, channel = body["user"]["id"], _channel(body)
    move_id = forms.connection_id(_action(body).get("value"))
    move = deps.moves.get(move_id) if move_id is not None else None
    if move is None:
        deps.notifier.tell_user(channel, user, "That move no longer exists.")
        return
    if not may_decide(deps, move, user):
        deps.service.record(move.to_connection_id, user, f"refused: tried to {what} #{move.id}")
        who = "an approver" if deps.access.needs_approval else "the new connection's owner"
        deps.notifier.tell_user(channel, user, f"Only {who} can do that for move #{move.id}.")
        return
    if what == "start the move":
        started, changed = deps.moves.start(move.id, user)
        if not changed:
            state = started.state if started else "gone"
            deps.notifier.tell_user(channel, user, f"Move #{move.id} is {state} already.")
    elif what == "cancel the move":
        _, changed = deps.moves.cancel(move.id, user)
        if not changed:
            deps.notifier.tell_user(channel, user, f"Move #{move.id} is over already.")
    else:
        said = deps.old_clients.delete(move.id, user)
        deps.notifier.tell_user(channel, user, said)
    deps.courier.deliver(move.to_connection_id)


def _open_republish(deps: SlackDeps, body: dict[str, Any], client: WebClient) -> None:
    """Re-publish modules pressed: the confirmation that says what it does, for approvers."""
    user, channel = body["user"]["id"], _channel(body)
    move_id = forms.connection_id(_action(body).get("value"))
    move = deps.moves.get(move_id) if move_id is not None else None
    if move is None:
        deps.notifier.tell_user(channel, user, "That move no longer exists.")
        return
    if not may_decide(deps, move, user):
        deps.service.record(move.to_connection_id, user, f"refused: tried to re-publish #{move.id}")
        deps.notifier.tell_user(channel, user, f"Only an approver can do that for move #{move.id}.")
        return
    if move.modules_republished_by:
        deps.notifier.tell_user(channel, user, "Those modules were re-published already.")
        return
    names = [f"{m.name}/{m.provider or '?'}" for m in deps.moves.modules_of(move)]
    try:
        client.views_open(trigger_id=body["trigger_id"], view=blocks.republish_view(move, names))
    except SlackApiError:
        deps.notifier.tell_user(channel, user, TRIGGER_FAILED)


def on_republish(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    ack()
    deps.work.submit(
        "opening the re-publish confirmation",
        partial(_open_republish, deps, body, client),
        urgent=True,
    )


def on_republish_confirmed(
    ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps
) -> None:
    move_id = forms.connection_id(forms.metadata(body).get("move"))
    title = "Re-publish modules"
    ack(response_action="update", view=busy_view(title, "Re-publishing the modules…"))
    modal = OpenModal(client, body["view"]["id"], time.monotonic())
    deps.work.submit(
        "re-publishing modules",
        partial(_republish, deps, body, move_id, modal),
        on_error=lambda _e: modal.show(
            message_view(title, "Something went wrong on the bot's side; see the move's message.")
        ),
    )


def _republish(
    deps: SlackDeps, body: dict[str, Any], move_id: int | None, modal: OpenModal
) -> None:
    title = "Re-publish modules"
    if not deps.deliveries.first_time(body):
        return
    user = body["user"]["id"]
    move = deps.moves.get(move_id) if move_id is not None else None
    if move is None or move.state != MoveState.DONE:
        modal.show(message_view(title, "That move is not done, or no longer exists."))
        return
    if not may_decide(deps, move, user):
        deps.service.record(move.to_connection_id, user, f"refused: tried to re-publish #{move.id}")
        modal.show(message_view(title, "Only an approver can re-publish the modules."))
        return
    report = republish(deps.moves, deps.flow.tfe, move, user)
    deps.courier.deliver(move.to_connection_id)
    modal.show(message_view(title, report or "Those modules were re-published already."))


def _on(what: str) -> Any:
    def listener(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
        ack()
        user, channel = body["user"]["id"], _channel(body)
        deps.work.submit(
            what,
            partial(_pressed, deps, body, what),
            on_error=lambda _e: deps.notifier.tell_user(
                channel, user, f"Something went wrong while trying to {what}. Press it again."
            ),
        )

    return listener


def register(app: App) -> None:
    app.action(ids.MOVE_START)(_on("start the move"))
    app.action(ids.MOVE_CANCEL)(_on("cancel the move"))
    app.action(ids.DELETE_OLD_CLIENT)(_on("delete the old client"))
    app.action(ids.REPUBLISH)(on_republish)
    app.view(ids.REPUBLISH_VIEW)(on_republish_confirmed)
