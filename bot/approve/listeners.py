"""Approving and denying: who may, the first decision winning, and everyone hearing of it.

Both the buttons (which open the Approve or Deny modal) and the modals' submissions check
on the server that the user is an approver and not the requester; anyone else changes
nothing, is answered politely, and leaves an audit row.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.approve.blocks import approve_view, deny_view
from bot.connections.model import Connection
from bot.connections.service import ConnectionNotFound
from bot.connections.states import State
from bot.deps import SlackDeps
from bot.slack import forms, ids
from bot.slack.blocks.kit import COMMENT_MAX, message_view
from bot.slack.modals import TRIGGER_FAILED, OpenModal
from bot.slack.preludes import on_connection_button, on_connection_modal

log = logging.getLogger(__name__)

NOT_AN_APPROVER = "Only the approvers set for this bot (APPROVERS) can approve or deny requests."
OWN_REQUEST = "That is your own request: another approver decides."


def refusal_to_decide(deps: SlackDeps, connection: Connection, user: str) -> str | None:
    """Why `user` may not decide on this connection, or None; refusals are audited."""
    if not deps.access.is_approver(user):
        deps.service.record(connection.id, user, "refused: not an approver tried to decide")
        log.warning(
            "refused a decision from someone who is not an approver",
            extra={"connection": connection.id, "user": user},
        )
        return NOT_AN_APPROVER
    if user == connection.owner_id:
        deps.service.record(connection.id, user, "refused: the requester tried to decide")
        return OWN_REQUEST
    return None


def already(connection: Connection) -> str:
    """What a late click or submission is told: who decided first, or how it ended."""
    if connection.decided_by:
        verb = "denied" if connection.state == State.DENIED else "approved"
        return f"Connection #{connection.id} was already {verb} by <@{connection.decided_by}>."
    return (
        f"Connection #{connection.id} is no longer waiting for a decision "
        f"({connection.state.words})."
    )


def open_decision(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient, approve: bool
) -> None:
    """Approve or Deny pressed on a card: the modal, if this approver may still decide."""
    user = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id")
    refusal = refusal_to_decide(deps, connection, user)
    if refusal is None and connection.state != State.AWAITING_APPROVAL:
        refusal = already(connection)
    if refusal is not None:
        deps.notifier.tell_user(channel, user, refusal)
        return
    view = approve_view(connection) if approve else deny_view(connection)
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except Exception:
        deps.notifier.tell_user(channel, user, TRIGGER_FAILED)
        raise


def decide(
    deps: SlackDeps, connection_id: int, user: str, *, approve: bool, note: str | None
) -> str:
    """Record the decision (the first one wins), then update every card, the progress
    message and the requester. Returns what the deciding approver is told."""
    connection = deps.service.get(connection_id)
    refusal = refusal_to_decide(deps, connection, user)
    if refusal is not None:
        return refusal
    connection, decided = deps.service.decide(connection_id, user, approve=approve, note=note)
    if not decided:
        return already(connection)
    log.info(
        "approved" if approve else "denied",
        extra={"connection": connection.id, "user": user},
    )
    deps.courier.deliver(connection.id)  # every card, the progress message, the requester
    verb = "approved" if approve else "denied"
    return (
        f"You {verb} connection #{connection.id} for {connection.organization}. "
        f"<@{connection.owner_id}> has been told."
    )


# An approver's decision.


def on_decision(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    """The Approve or Deny modal: a denial needs its reason; the rest happens after the ack."""
    view = body["view"]
    approve = view.get("callback_id") == ids.APPROVE_VIEW
    title = "Approve connection" if approve else "Deny connection"
    note = str(forms.value(body, ids.COMMENT if approve else ids.DENY_REASON).get("value") or "")
    note = note.strip()[:COMMENT_MAX]
    if not approve and not note:
        ack(
            response_action="errors",
            errors={ids.DENY_REASON: "Say why, in a sentence: the requester reads it."},
        )
        return
    on_connection_modal(
        ack,
        body,
        client,
        deps,
        title=title,
        busy="Recording your decision…",
        what="recording a decision",
        step=partial(record_decision, deps, body, approve, note or None, title),
        again="press the button on the card again.",
    )


NO_SUCH_REQUEST = "This request no longer exists."


def record_decision(
    deps: SlackDeps,
    body: dict[str, Any],
    approve: bool,
    note: str | None,
    title: str,
    modal: OpenModal,
    connection_id: int,
) -> None:
    if not deps.deliveries.first_time(body):
        return
    try:
        said = decide(deps, connection_id, body["user"]["id"], approve=approve, note=note)
    except ConnectionNotFound:
        said = NO_SUCH_REQUEST
    modal.show(message_view(title, said))


def approve_clicked(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient
) -> None:
    open_decision(deps, connection, body, client, approve=True)


def deny_clicked(
    deps: SlackDeps, connection: Connection, body: dict[str, Any], client: WebClient
) -> None:
    open_decision(deps, connection, body, client, approve=False)


def on_approve(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    ack()
    # Anyone may press it; open_decision lets only approvers (not the requester) through.
    on_connection_button(deps, body, client, "opening the approval", approve_clicked, urgent=True)


def on_deny(ack: Ack, body: dict[str, Any], client: WebClient, deps: SlackDeps) -> None:
    ack()
    on_connection_button(deps, body, client, "opening the denial", deny_clicked, urgent=True)


def register(app: App) -> None:
    app.action(ids.numbered(ids.APPROVE))(on_approve)
    app.action(ids.numbered(ids.DENY))(on_deny)
    app.view(ids.APPROVE_VIEW)(on_decision)
    app.view(ids.DENY_VIEW)(on_decision)
