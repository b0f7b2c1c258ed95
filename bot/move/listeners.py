"""Move workspaces, Cancel move, Delete old client: the buttons of a move's cards.
Approvers decide (where no APPROVERS are set, the new connection's owner does); the server
checks it at every press."""

from __future__ import annotations

import logging
from enum import StrEnum
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.connections.move_tables import Move, MoveState
from bot.deps import SlackDeps
from bot.move import blocks
from bot.move.republish import republish
from bot.slack import forms, ids
from bot.slack.blocks.kit import message_view
from bot.slack.modals import TRIGGER_FAILED, OpenModal
from bot.slack.preludes import action_of, channel_of, on_connection_modal

log = logging.getLogger(__name__)


class Press(StrEnum):
    """A button on a move's card, by what it does."""

    START = "start the move"
    CANCEL = "cancel the move"
    DELETE = "delete the old client"


def may_decide(deps: SlackDeps, move: Move, user: str) -> bool:
    """The rule is Access's; the new connection's owner is looked up for it."""
    owner = deps.service.get(move.to_connection_id).owner_id
    return deps.access.may_decide_move(user, asked_by=move.asked_by, new_owner=owner)


def decided_already(move: Move) -> str:
    """What a late press is told: who decided first, or how the move ended."""
    if move.approved_by and move.approved_by != "bot":
        return f"Move #{move.id} was already started by <@{move.approved_by}>."
    if move.cancelled_by:
        return f"Move #{move.id} was already cancelled by <@{move.cancelled_by}>."
    if move.state == MoveState.EXPIRED:
        return f"Move #{move.id} expired: nobody decided in time."
    return f"Move #{move.id} is {move.state} already."


def _pressed(deps: SlackDeps, body: dict[str, Any], press: Press) -> None:
    if not deps.deliveries.first_time(body):
        return
    user, channel = body["user"]["id"], channel_of(body)
    move_id = forms.connection_id(action_of(body).get("value"))
    move = deps.moves.get(move_id) if move_id is not None else None
    if move is None:
        deps.notifier.tell_user(channel, user, "That move no longer exists.")
        return
    if not may_decide(deps, move, user):
        deps.service.record(move.to_connection_id, user, f"refused: tried to {press} #{move.id}")
        who = "another approver" if deps.access.needs_approval else "the new connection's owner"
        if deps.access.needs_approval and not deps.access.is_approver(user):
            who = "an approver"
        deps.notifier.tell_user(channel, user, f"Only {who} can do that for move #{move.id}.")
        return
    if press == Press.START:
        started, changed = deps.moves.start(move.id, user)
        if not changed:
            deps.notifier.tell_user(channel, user, decided_already(started or move))
    elif press == Press.CANCEL:
        cancelled, changed = deps.moves.cancel(move.id, user)
        if not changed:
            deps.notifier.tell_user(channel, user, decided_already(cancelled or move))
    else:
        deps.notifier.tell_user(channel, user, deps.old_clients.delete(move.id, user))
    deps.courier.deliver(move.to_connection_id)


def _open_republish(deps: SlackDeps, body: dict[str, Any], client: WebClient) -> None:
    """Re-publish modules pressed: the confirmation that says what it does, for approvers."""
    user, channel = body["user"]["id"], channel_of(body)
    move_id = forms.connection_id(action_of(body).get("value"))
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
    on_connection_modal(
        ack,
        body,
        client,
        deps,
        title="Re-publish modules",
        busy="Re-publishing the modules…",
        what="re-publishing modules",
        step=partial(_republish, deps, body),
        again="see the move's message.",
        key="move",
    )


def _republish(deps: SlackDeps, body: dict[str, Any], modal: OpenModal, move_id: int) -> None:
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


def _on(press: Press) -> Any:
    def listener(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
        ack()
        user, channel = body["user"]["id"], channel_of(body)
        deps.work.submit(
            press.value,
            partial(_pressed, deps, body, press),
            on_error=lambda _e: deps.notifier.tell_user(
                channel, user, f"Something went wrong while trying to {press}. Press it again."
            ),
        )

    return listener


def register(app: App) -> None:
    app.action(ids.MOVE_START)(_on(Press.START))
    app.action(ids.MOVE_CANCEL)(_on(Press.CANCEL))
    app.action(ids.DELETE_OLD_CLIENT)(_on(Press.DELETE))
    app.action(ids.REPUBLISH)(on_republish)
    app.view(ids.REPUBLISH_VIEW)(on_republish_confirmed)
